package dev.daxload.image;

import java.io.IOException;

/**
 * An image broke a rule of the DAXFS format. The message names the image, where in it the problem
 * sits (inode, byte offset) and the rule that failed; the same facts are available as fields.
 */
public final class DaxFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient ImageProblem problem;

    /**
     * @param source the image, as messages name it (a path, a device)
     * @param problem the rule it broke, and where
     */
    public DaxFormatException(String source, ImageProblem problem) {
        super(source + ": " + problem);
        this.problem = problem;
    }

    DaxFormatException(String source, ImageProblem problem, int moreProblems) {
        super(source + ": " + problem + (moreProblems > 0 ? " (and " + moreProblems + " more problems; run 'daxload verify')" : ""));
        this.problem = problem;
    }

    /** The first problem found. */
    public ImageProblem problem() {
        return problem;
    }
}
