#!/usr/bin/env bash
# Size of the release archive and the time of `daxload --version` from it, as a new user meets it:
# the first run right after unpacking (cold: a new JVM, files just written), then RUNS more, against
# baselines measured in the same run: the same archive with its AOT cache off (-XX:AOTMode=off) and the
# checkout's bin/daxload (the JDK 25 on the machine, its own AOT cache). Prints medians and ratios.
# Usage: dist/bench/version-time.sh [RUNS]   (after mvn -DskipTests package; RUNS defaults to 11)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-11}
archive=$(ls dist/target/daxload-*-linux-x86_64.tar.gz)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "archive: $archive, $(stat -c %s "$archive") bytes ($(du -h "$archive" | cut -f1)); unpacked: $(tar tzvf "$archive" | awk '{s+=$3} END {print s}') bytes"
tar xzf "$archive" -C "$tmp"
bin=$(ls -d "$tmp"/daxload-*/bin)/daxload
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "first run after unpacking: $(ms env -u JAVA_HOME "$bin" --version) ms"
bin/daxload --version >/dev/null 2>&1 # builds the checkout's AOT cache if it has none
# Interleaved, so that a change in the machine's load (other builds) falls on all three alike.
: > "$tmp/a"; : > "$tmp/b"; : > "$tmp/c"
for _ in $(seq "$runs"); do
  ms env -u JAVA_HOME "$bin" --version >> "$tmp/a"
  ms env -u JAVA_HOME DAXLOAD_JAVA_OPTS=-XX:AOTMode=off "$bin" --version >> "$tmp/b"
  ms bin/daxload --version >> "$tmp/c"
done
a=$(median < "$tmp/a") b=$(median < "$tmp/b") c=$(median < "$tmp/c")
echo "median of $runs (load average $(cut -d' ' -f1-3 /proc/loadavg)): archive ${a} ms; archive without AOT cache ${b} ms; checkout bin/daxload ${c} ms"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {printf "ratios: archive / archive without AOT cache = %.2f; archive / checkout = %.2f\n", a / b, a / c}'
