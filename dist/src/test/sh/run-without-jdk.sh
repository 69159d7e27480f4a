#!/usr/bin/env bash
# The release archive on a machine with no JDK at all: unpacks dist/target/daxload-*-linux-x86_64.tar.gz
# to a temporary directory and, in a private mount namespace where /usr/lib/jvm is an empty tmpfs (so no
# java anywhere: /usr/bin/java dangles) and JAVA_HOME is unset, runs --version, pack-model of the real
# all-MiniLM-L6-v2 and verify --json through a symlink on PATH. Run by .ci/run after mvn verify (which
# made the archive; DistArchiveIT checked every command's output there). Needs root for the namespace:
# elsewhere it says SKIPPED and exits 0.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
archive=$(ls dist/target/daxload-*-linux-x86_64.tar.gz)
model=packager/target/models/all-minilm-l6-v2
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
  echo "dist: SKIPPED the run without a JDK: a private mount namespace needs root" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar xzf "$archive" -C "$tmp"
mkdir "$tmp/path"
ln -s "$tmp"/daxload-*/bin/daxload "$tmp/path/daxload"
cp "$model/all-minilm-l6-v2.onnx" "$tmp/"
unshare -m env -u JAVA_HOME -u JDK_HOME -u DAXLOAD_JAVA_HOME PATH="$tmp/path:/usr/bin:/bin" bash -euo pipefail -c '
  mount -t tmpfs none /usr/lib/jvm
  cd "$1"
  if command -v java >/dev/null && java -version >/dev/null 2>&1; then echo "dist: a java is still reachable" >&2; exit 1; fi
  daxload --version
  daxload pack-model -q --name minilm all-minilm-l6-v2.onnx -o minilm.daxfs
  report=$(daxload verify --json minilm.daxfs)
  case "$report" in *"\"sound\": true"*) ;; *) echo "dist: verify --json: $report" >&2; exit 1 ;; esac
  echo "dist: the archive ran --version, pack-model and verify with no JDK on the machine"
' _ "$tmp"
