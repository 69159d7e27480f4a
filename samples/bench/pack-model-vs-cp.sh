#!/usr/bin/env bash
# Packing throughput: `daxload pack-model` (whole process: JVM start, reading the source's header,
# copying every tensor into the image, CRC32C of each, manifest, the image checked on reopen) against
# `cp` of the same source file to the same filesystem, in alternating order, for bge-small-en-v1.5
# (133 MB ONNX) and a 3 GiB safetensors file (pseudo-random F32/BF16, 200 tensors).
#
# Page cache state is made equal before every timing: outputs deleted, `sync`, then the source read
# once (`cat > /dev/null`), so both read from the page cache and write into it; times are reported
# without and with the final `sync` that puts the output on disk.
#
# Then `daxload verify --checksums` on the 3 GiB image with the image in the page cache, with
# --threads 1 and with one thread per core, alternating: the CRC32C rate as the command prints it
# (verify maps with MAP_POPULATE before it starts the clock, so that is memory-to-CPU only), in GB/s
# per core. Goals: pack >= 0.8 x cp's throughput; CRC32C >= 5 GB/s per core.
#
# usage: samples/bench/pack-model-vs-cp.sh [ROUNDS]     (default 5)
# env: JAVA, SKIP_BUILD=1, KEEP=1 (keep the 3 GiB source and the work directory)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
bench_files synthetic-3g
WORK=$BENCH/pack-work
rm -rf "$WORK"; mkdir -p "$WORK"
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT
DAXLOAD=$REPO/bin/daxload
SOURCES=("samples/target/models/bge-small-en-v1.5/bge-small-en-v1.5.onnx" "$BENCH/synthetic-3g.safetensors")
machine

now() { date +%s.%N; }
run() { # kind source -> "seconds seconds_with_sync"
  local kind=$1 src=$2 t0 t1 t2
  rm -f "$WORK/copy" "$WORK/image.daxfs"; sync
  cat "$src" > /dev/null
  t0=$(now)
  if [ "$kind" = cp ]; then cp "$src" "$WORK/copy"; else "$DAXLOAD" pack-model -q --name m "$src" -o "$WORK/image.daxfs"; fi
  t1=$(now); sync; t2=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t0" | bc)"
}

for src in "${SOURCES[@]}"; do
  BYTES=$(stat -c %s "$src")
  echo; echo "source: $src ($BYTES bytes)"
  CPT=(); CPS=(); PKT=(); PKS=()
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="cp pack"; else order="pack cp"; fi
    for k in $order; do
      read -r t ts < <(run "$k" "$src")
      if [ "$k" = cp ]; then CPT+=("$t"); CPS+=("$ts"); else PKT+=("$t"); PKS+=("$ts"); fi
      printf 'round %d %-4s %7.2f s  (%7.2f s with sync)\n' "$r" "$k" "$t" "$ts"
    done
  done
  mcp=$(median "${CPT[@]}"); mpk=$(median "${PKT[@]}"); mcps=$(median "${CPS[@]}"); mpks=$(median "${PKS[@]}")
  mbs() { awk -v b="$BYTES" -v t="$1" 'BEGIN {printf "%.0f MB/s", b / t / 1e6}'; }
  echo "median cp   : $mcp s ($(mbs "$mcp")); with sync $mcps s ($(mbs "$mcps"))"
  echo "median pack : $mpk s ($(mbs "$mpk")); with sync $mpks s ($(mbs "$mpks"))"
  echo "throughput pack/cp: $(ratio "$mcp" "$mpk") (with sync: $(ratio "$mcps" "$mpks")); goal >= 0.8"
done
machine

# The last pack above left the 3 GiB image.
IMG=$WORK/image.daxfs
[ -f "$IMG" ] || "$DAXLOAD" pack-model -q --name m "$BENCH/synthetic-3g.safetensors" -o "$IMG"
echo; echo "verify --checksums, $IMG ($(stat -c %s "$IMG") bytes) in the page cache, $(nproc) cores"
V1=(); VN=()
for r in $(seq 1 "$ROUNDS"); do
  cat "$IMG" > /dev/null
  for th in $([ $((r % 2)) -eq 1 ] && echo "1 $(nproc)" || echo "$(nproc) 1"); do
    out=$("$DAXLOAD" verify --checksums --threads "$th" "$IMG")
    gbs=$(sed -n 's/.*, \([0-9.]*\) GB\/s).*/\1/p' <<< "$out")
    [ -n "$gbs" ] || { echo "verify printed no rate: $out" >&2; exit 1; }
    if [ "$th" = 1 ]; then V1+=("$gbs"); else VN+=("$gbs"); fi
    printf 'round %d --threads %d  %s GB/s\n' "$r" "$th" "$gbs"
  done
done
m1=$(median "${V1[@]}"); mn=$(median "${VN[@]}")
echo "median --threads 1: $m1 GB/s (per core); --threads $(nproc): $mn GB/s = $(awk -v a="$mn" -v n="$(nproc)" 'BEGIN {printf "%.2f", a / n}') GB/s per core; goal >= 5 GB/s per core"
machine
[ "${KEEP:-0}" = 1 ] || rm -f "$BENCH/synthetic-3g.safetensors"
