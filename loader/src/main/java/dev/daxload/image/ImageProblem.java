package dev.daxload.image;

/**
 * One broken rule in an image.
 *
 * @param severity {@link Severity#ERROR} when reading would be unsafe or wrong, {@link Severity#WARNING}
 *     when the image reads correctly but breaks a rule the kernel's {@code validate} option checks
 * @param inode the inode concerned, or 0
 * @param offset the absolute byte offset in the image where the broken field sits, or -1
 * @param rule a short stable name of the rule, e.g. {@code dirent.name}
 * @param detail what was found and what was expected
 */
public record ImageProblem(Severity severity, long inode, long offset, String rule, String detail) {

    /** How bad a problem is. */
    public enum Severity { ERROR, WARNING }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        if (severity == Severity.WARNING) {
            sb.append("warning: ");
        }
        if (inode > 0) {
            sb.append("inode ").append(inode).append(": ");
        }
        if (offset >= 0) {
            sb.append("at offset ").append(offset).append(" (0x").append(Long.toHexString(offset)).append("): ");
        }
        return sb.append(detail).append(" [").append(rule).append(']').toString();
    }
}
