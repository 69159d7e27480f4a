#!/usr/bin/env bash
# Whole-process packing throughput: `cp -r TREE DEST` against packing the same tree into a DAXFS
# image with daxload's writer (TreeScanner + ImageWriter, JVM start-up included), on the same
# filesystem, alternating over several rounds. Prints each round and the medians.
#
# usage: packager/bench/pack-vs-cp.sh [WORKDIR] [ROUNDS]
#   WORKDIR  where the tree and the outputs go (default: /tmp/daxload-pack-bench); needs ~2.2x the
#            tree size free. The tree is kept between runs (delete WORKDIR to regenerate it).
#   ROUNDS   rounds of (cp, pack), order alternating (default 5)
# env: TREE_MB (approximate tree size, default 3000), JAVA (a JDK 25 java), SEED (tree shape seed)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-/tmp/daxload-pack-bench}
ROUNDS=${2:-5}
TREE_MB=${TREE_MB:-3000}
SEED=${SEED:-42}
JAVA=${JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}
TREE=$WORK/tree

(cd "$REPO" && { mvn -q -o -pl loader,packager test-compile 2>/dev/null || mvn -q -pl loader,packager test-compile; })
CP="$REPO/packager/target/test-classes:$REPO/packager/target/classes:$REPO/loader/target/classes"

mkdir -p "$WORK"
if [ ! -f "$TREE/.complete" ]; then
  rm -rf "$TREE"; mkdir -p "$TREE/big" "$TREE/mid" "$TREE/small"
  echo "generating a ~${TREE_MB} MB tree in $TREE ..." >&2
  # Incompressible bytes, fast: AES-CTR keystream (urandom is several times slower).
  # (openssl dies of SIGPIPE when head has enough: not an error here)
  gen() { (set +o pipefail; openssl enc -aes-128-ctr -nosalt -pass "pass:$SEED-$2" -pbkdf2 < /dev/zero 2>/dev/null | head -c "$1"); }
  RANDOM=$SEED
  budget=$((TREE_MB * 1024 * 1024))
  # a few 500 MB files: 45% of the tree
  nbig=$(( (TREE_MB * 45 / 100 + 499) / 500 ))
  for i in $(seq 1 $nbig); do gen $((500 * 1024 * 1024)) big$i > "$TREE/big/shard-$i.bin"; budget=$((budget - 500 * 1024 * 1024)); done
  # many 1-64 MB files, until ~2% of the budget is left
  i=0
  while [ $budget -gt $((TREE_MB * 1024 * 1024 / 50)) ]; do
    i=$((i + 1)); mb=$(( (RANDOM % 64) + 1 )); sz=$((mb * 1024 * 1024 + RANDOM))
    d="$TREE/mid/group-$((i % 7))"; mkdir -p "$d"
    gen $sz mid$i > "$d/tensor-$i.bin"; budget=$((budget - sz))
  done
  # some small files (0-64 KB) in nested directories
  for j in $(seq 1 2000); do
    d="$TREE/small/d$((j % 20))/e$((j % 3))"; mkdir -p "$d"
    gen $(( (RANDOM * 2) % 65536 )) small$j > "$d/f$j.json"
  done
  touch "$TREE/.complete"
fi
BYTES=$(du -sb --exclude=.complete "$TREE" | cut -f1)
FILES=$(find "$TREE" -type f | wc -l)
echo "tree: $TREE, $BYTES bytes in $FILES files; $(nproc) cores; $(uname -r); $(df -hT "$WORK" | tail -1 | awk '{print $2}')" >&2

now() { date +%s.%N; }
run() { # kind -> prints "seconds_command seconds_command_plus_sync"
  local kind=$1 t0 t1 t2
  rm -rf "$WORK/cp-out" "$WORK/image.daxfs"; sync
  t0=$(now)
  if [ "$kind" = cp ]; then cp -r "$TREE" "$WORK/cp-out"; else "$JAVA" -cp "$CP" dev.daxload.packager.image.PackTree "$TREE" "$WORK/image.daxfs"; fi
  t1=$(now); sync; t2=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t0" | bc)"
}

declare -a CPT CPS PKT PKS
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="cp pack"; else order="pack cp"; fi
  for k in $order; do
    read -r t ts < <(run "$k")
    if [ "$k" = cp ]; then CPT+=("$t"); CPS+=("$ts"); else PKT+=("$t"); PKS+=("$ts"); fi
    printf 'round %d %-4s %7.2f s  (%7.2f s with sync)\n' "$r" "$k" "$t" "$ts"
  done
done
rm -rf "$WORK/cp-out" "$WORK/image.daxfs"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mcp=$(median "${CPT[@]}"); mpk=$(median "${PKT[@]}"); mcps=$(median "${CPS[@]}"); mpks=$(median "${PKS[@]}")
mbps() { echo "scale=0; $BYTES / 1048576 / $1" | bc; }
echo
echo "median cp -r : $mcp s ($(mbps "$mcp") MiB/s); with sync $mcps s ($(mbps "$mcps") MiB/s)"
echo "median pack  : $mpk s ($(mbps "$mpk") MiB/s); with sync $mpks s ($(mbps "$mpks") MiB/s)"
echo "throughput daxload/cp: $(echo "scale=3; $mcp / $mpk" | bc) (with sync: $(echo "scale=3; $mcps / $mpks" | bc))"
