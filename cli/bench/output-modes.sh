#!/usr/bin/env bash
# pack-model of bge-small-en-v1.5 (133 MB of ONNX) through bin/daxload, whole process, to each kind of
# -o: a file (unnamed O_TMPFILE, linked at the end: the baseline), '-' piped to cat into a file, and a
# character device (/dev/null). Rounds are interleaved so that a busy machine slows each mode alike;
# prints the median of each and its ratio to the file's. Usage: cli/bench/output-modes.sh [ROUNDS]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
rounds=${1:-7}
model=samples/target/models/bge-small-en-v1.5/bge-small-en-v1.5.onnx
[ -f "$model" ] || mvn -q -B -pl samples generate-resources >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin/daxload pack-model -q --name m "$model" -o "$out/warm.daxfs"   # builds and trains the launcher first
ms() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
declare -A t
for _ in $(seq "$rounds"); do
  t[file]+=" $(ms bin/daxload pack-model -q --name m "$model" -o "$out/f.daxfs")"
  t[stream]+=" $(ms bash -c "bin/daxload pack-model -q --name m '$model' -o - | cat > '$out/s.daxfs'")"
  t[device]+=" $(ms bin/daxload pack-model -q --name m "$model" -o /dev/null)"
done
cmp "$out/f.daxfs" "$out/s.daxfs"
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${t[file]}" | median)
for m in file stream device; do
  med=$(echo "${t[$m]}" | median)
  printf '%-7s median %5d ms  ratio %.2f  (runs:%s)\n' "$m" "$med" "$(echo "$med / $base" | bc -l)" "${t[$m]}"
done
