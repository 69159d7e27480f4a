package dev.daxload.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.PrintWriter;

/**
 * The one shape of every {@code --json} document (docs/cli-json.md): an object whose first field,
 * {@code "format"}, names the version of the documents' fields, then the command's own fields. A field
 * is only ever added within a format version; renaming or removing one makes a new version.
 * A failure is an object with {@code "error"} on standard error, with the exit code the text form has.
 */
final class JsonOutput {
    /** The version of every --json document's fields. */
    static final String FORMAT = "daxload-cli/1";

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().setPrettyPrinting()
            .create();

    private JsonOutput() {}

    /** A new document of {@code command}'s, with its format field first. */
    static JsonObject document(String command) {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("command", command);
        return o;
    }

    static void print(PrintWriter out, JsonObject doc) {
        out.println(GSON.toJson(doc));
        out.flush();
    }

    /** The error document: the command as named on the command line, the message, the exit code. */
    static JsonObject error(String command, String message, int exitCode) {
        JsonObject o = document(command);
        o.addProperty("error", message);
        o.addProperty("exitCode", exitCode);
        return o;
    }
}
