#!/usr/bin/env bash
# Memory across processes: N JVMs (default 8) each hold the same model's weights as PyTorch arrays,
# loaded one way (WeightsHolder), every page of the weights resident; then the proportional set size
# (PSS: each shared page divided among the processes that map it) is summed over the N.
#
#   views   the image, mapped copy-on-write, every tensor a view (pages are the page cache's: shared)
#   decode  DJL's NDList.decode of a safetensors file of the same tensors (private copies)
#   direct  each tensor read into a direct buffer for manager.create (private copies)
#   none    the engine and a manager without weights: the control, subtracted to get the weights' share
#
# Reported per mode: total PSS (smaps_rollup), the weights' share (total minus the control's total),
# and for views also the PSS of the image mapping itself (the /proc/PID/smaps entries of the image file).
# Goal: about one copy of the weights in total for views, N copies for the baselines.
#
# usage: samples/bench/pss.sh [N]     (default 8)
# env: MODEL (synthetic-512m: 512 MiB of F32 in 64 tensors; or bge), MODES, JAVA, SKIP_BUILD=1, CSV (a file
#      to append model,mode,n,pss_mib,image_pss_mib to)
# Needs about N x 2 x the model's size of free memory for the decode mode. Every JVM it starts is
# killed when it exits, on failure too.
source "$(dirname "$0")/common.sh"
N=${1:-8}
MODEL=${MODEL:-synthetic-512m}
MODES=(${MODES:-views decode direct none})
bench_files "$MODEL"
IMAGE=$(readlink -f "$BENCH/$MODEL.daxfs")
WEIGHTS=$(stat -c %s "$BENCH/$MODEL.safetensors")
cat "$BENCH/$MODEL".* > /dev/null
LOGS=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
machine
echo "model: $MODEL, weights $WEIGHTS bytes ($((WEIGHTS / 1048576)) MiB), image $IMAGE; $N processes per mode"

kib() { awk '/^Pss:/ {s += $2} END {print s + 0}' "$@"; }
image_pss() { # pid -> PSS (KiB) of the mappings of the image file
  awk -v img="$IMAGE" '
    /^[0-9a-f]+-[0-9a-f]+ / { inimg = ($6 == img) }
    inimg && /^Pss:/ { s += $2 }
    END { print s + 0 }' "/proc/$1/smaps"
}

declare -A TOTAL IMG
for mode in "${MODES[@]}"; do
  PIDS=()
  for i in $(seq 1 "$N"); do
    "$JAVA" "${JOPTS[@]}" -Xmx2g -cp "$CP" dev.daxload.samples.bench.WeightsHolder "$mode" "$MODEL" > "$LOGS/$mode-$i.log" 2>&1 &
    PIDS+=($!)
  done
  # All N must say READY (weights loaded and resident), within 10 minutes.
  for t in $(seq 1 600); do
    ready=$( (grep -l '^READY' "$LOGS/$mode"-*.log 2>/dev/null || true) | wc -l)
    [ "$ready" -eq "$N" ] && break
    for p in "${PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "a $mode process died:" >&2; cat "$LOGS/$mode"-*.log >&2; exit 1; }
    done
    sleep 1
  done
  [ "$ready" -eq "$N" ] || { echo "$mode: only $ready of $N ready after 10 minutes" >&2; exit 1; }
  sleep 2 # let the last full GC's heap shrinking settle
  total=0; img=0
  for p in "${PIDS[@]}"; do
    total=$((total + $(kib "/proc/$p/smaps_rollup")))
    img=$((img + $(image_pss "$p")))
  done
  TOTAL[$mode]=$total; IMG[$mode]=$img
  printf '%-7s total PSS %8d MiB   image mapping PSS %6d MiB   (%d processes)\n' "$mode" $((total / 1024)) $((img / 1024)) "$N"
  # env CSV: one line appended per mode (model,mode,n,pss_mib,image_pss_mib), e.g. for samples/bench/plot.sh
  [ -n "${CSV:-}" ] && echo "$MODEL,$mode,$N,$((total / 1024)),$((img / 1024))" >> "$CSV"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
done
machine

echo
W=$((WEIGHTS / 1024))
printf '%-7s %16s %22s %20s\n' mode "total PSS (MiB)" "weights' share (MiB)" "copies of weights"
for mode in "${MODES[@]}"; do
  if [ -n "${TOTAL[none]:-}" ] && [ "$mode" != none ]; then
    share=$(( ${TOTAL[$mode]} - ${TOTAL[none]} ))
    printf '%-7s %16d %22d %20s\n' "$mode" $((TOTAL[$mode] / 1024)) $((share / 1024)) "$(ratio $share $W)"
  else
    printf '%-7s %16d %22s %20s\n' "$mode" $((TOTAL[$mode] / 1024)) - -
  fi
done
[ -n "${IMG[views]:-}" ] && echo "views: PSS of the image mapping summed over the $N processes: $((IMG[views] / 1024)) MiB = $(ratio ${IMG[views]} $W) copies of the weights"
true
