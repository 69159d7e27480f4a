#!/usr/bin/env bash
# Build step of the release archive (run by exec-maven-plugin in the package phase, after
# maven-dependency-plugin has copied the jars to DIST/lib):
#   1. the Java runtime: jlink of exactly the JDK modules that jdeps finds the jars use. maven-jlink-plugin
#      links modular jars only, and daxload's jars and most of its dependencies are class-path jars, so
#      the jars stay on the class path and jlink makes the runtime alone;
#   2. the AOT cache (JDK 25), trained on that runtime with the launcher's options and class path;
#   3. bash completion (picocli AutoComplete) and man pages (picocli-codegen, AsciiDoc).
# Usage: make-runtime.sh DIST TOOLS_DIR   (TOOLS_DIR: picocli-codegen, needed at build time only)
set -euo pipefail
dist=$1
tools=$2
here=$(cd "$(dirname "$0")/../../../.." && pwd)
jdk=$("$here/bin/find-jdk25")
say() { echo "[dist] $*"; }

# The ONNX Runtime jar carries its native library for every platform, with debug symbols (618 MB
# unpacked, 131 MiB packed); this archive is for linux-x86_64, so it keeps ai/onnxruntime/native/linux-x64
# only (ORT loads its library from there). Without zip the jar is shipped whole.
for ort in "$dist"/lib/onnxruntime-*.jar; do
  [ -f "$ort" ] || continue
  if command -v zip >/dev/null; then
    say "$(basename "$ort"): keeping the linux-x64 native library only"
    rc=0
    zip -q -d "$ort" 'ai/onnxruntime/native/osx-*' 'ai/onnxruntime/native/win-*' 'ai/onnxruntime/native/linux-aarch64/*' || rc=$?
    # 12: nothing to delete (copy-dependencies kept the jar trimmed by an earlier build)
    [ "$rc" -eq 0 ] || [ "$rc" -eq 12 ] || { echo "[dist] could not trim $ort (zip exit $rc)" >&2; exit 1; }
  else
    say "no zip on this machine: $(basename "$ort") is shipped with every platform's native library"
  fi
done

cp=$(printf '%s\n' "$dist"/lib/*.jar | LC_ALL=C sort | paste -sd: -)
cli=$(printf '%s\n' "$dist"/lib/daxload-cli-*.jar)

say "jdeps: the JDK modules the jars need"
mods=$("$jdk/bin/jdeps" -q --print-module-deps --ignore-missing-deps --multi-release 25 --class-path "$cp" \
  "$dist"/lib/*.jar)
say "jlink --add-modules $mods"
rm -rf "$dist/runtime"
"$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files \
  --compress zip-6 --output "$dist/runtime"

say "AOT cache: training run on the new runtime (dev.daxload.cli.StartupTraining)"
rm -f "$dist/lib/daxload.aot"
# The options must be the launcher's (bin/daxload), or the JVM refuses the cache at run time.
"$dist/runtime/bin/java" --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1 \
  -Xlog:aot=off -Xlog:cds=off -XX:AOTCacheOutput="$dist/lib/daxload.aot" \
  -cp "$cp" dev.daxload.cli.StartupTraining
[ -s "$dist/lib/daxload.aot" ] || { echo "[dist] the training run wrote no AOT cache" >&2; exit 1; }

say "bash completion (picocli AutoComplete)"
mkdir -p "$dist/share/bash-completion/completions"
"$dist/runtime/bin/java" -cp "$cp" picocli.AutoComplete --force -n daxload \
  -o "$dist/share/bash-completion/completions/daxload" dev.daxload.cli.Daxload

say "man pages (picocli-codegen ManPageGenerator)"
rm -rf "$dist/share/man"
mkdir -p "$dist/share/man/adoc"
"$jdk/bin/java" -cp "$cp:$(printf '%s\n' "$tools"/*.jar | paste -sd: -)" \
  picocli.codegen.docgen.manpage.ManPageGenerator -d "$dist/share/man/adoc" dev.daxload.cli.Daxload
say "done: $(du -sh "$dist" | cut -f1) in $dist"
