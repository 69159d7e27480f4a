#!/usr/bin/env bash
# Start-up and memory of the daxfs: route with ORT's form from the image against ONNX Runtime's own best
# form: the start-up and memory phases of ort-form.sh (same probe, same inputs, made by it), plus the
# daxfs: route with its background start switched off (-Ddaxload.noPrefetch=true), so the part the
# background work hides shows in the same run.
#
#   ort-best             ONNX Runtime's own best form of bge-small (optimized graph, data file, blobs)
#   daxfs-form           daxfs: of the image packed with --ort-prepack
#   daxfs-form-serial    the same, the load's work done on the loading thread only
#
# usage: samples/bench/ort-start.sh [ROUNDS]   (default 7, 0 for memory only; run ort-form.sh once first to make the inputs)
# env: MODEL (bge), PROCS ("1 4"), SKIP_BUILD=1, CP_OVERRIDE (a class path to run instead of the build's)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-7}
MODEL=${MODEL:-bge}
PROCS=(${PROCS:-1 4})
CP=${CP_OVERRIDE:-$CP}
JOPTS+=(-Dai.djl.onnx.disable_alternative=true)
MODES=(ort-best daxfs-form daxfs-form-serial)
run() { # MODE COMMAND -> the probe for that way
  local m=$1; shift
  local extra=(); [ "$m" = daxfs-form-serial ] && { extra=(-Ddaxload.noPrefetch=true); m=daxfs-form; }
  # exec: run in a subshell (command substitution, background), whose pid then is the JVM's
  exec "$JAVA" "${JOPTS[@]}" "${extra[@]}" -Xmx1g -cp "$CP" dev.daxload.samples.bench.OrtFormProbe "$1" "$m" "$MODEL"
}
machine
declare -A FIRST ANON PSS
n=${#MODES[@]}
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((n - 1))); do
    m=${MODES[$(( (i + r) % n ))]}
    f=$(run "$m" start 2>/dev/null | sed -n 's/^READY.*first_ms=\([0-9]*\).*/\1/p')
    [ -n "$f" ] || { echo "start $m failed" >&2; exit 1; }
    FIRST[$m]+="$f "; echo "start round $r $m first answer $f ms"
  done
done
for np in "${PROCS[@]}"; do
  for m in ort-best daxfs-form; do
    PIDS=(); LOGS=()
    for k in $(seq 1 "$np"); do log=$(mktemp); LOGS+=("$log"); run "$m" hold > "$log" 2>/dev/null & PIDS+=($!); done
    for t in $(seq 1 300); do ready=$(cat "${LOGS[@]}" | grep -c '^READY' || true); [ "$ready" -eq "$np" ] && break; sleep 1; done
    sleep 2; anon=0; pss=0
    for p in "${PIDS[@]}"; do
      anon=$((anon + $(awk '/^RssAnon:/ {print $2}' "/proc/$p/status"))); pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
    done
    ANON["$m $np"]=$((anon / np)); PSS["$m $np"]=$pss
    echo "memory $m x$np: RssAnon per process $((anon / np)) KiB, PSS total $pss KiB"
    for p in "${PIDS[@]}"; do kill "$p"; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; rm -f "${LOGS[@]}"
  done
done
machine
echo
[ "$ROUNDS" -gt 0 ] && for m in "${MODES[@]}"; do echo "first answer $m (ms, sorted): $(printf '%s\n' ${FIRST[$m]} | sort -n | tr '\n' ' ')median $(median ${FIRST[$m]})"; done
[ "$ROUNDS" -gt 0 ] && echo "first answer daxfs-form / ort-best: $(ratio "$(median ${FIRST[daxfs-form]})" "$(median ${FIRST[ort-best]})"), daxfs-form-serial / ort-best: $(ratio "$(median ${FIRST[daxfs-form-serial]})" "$(median ${FIRST[ort-best]})")"
for np in "${PROCS[@]}"; do
  echo "x$np: RssAnon per process ort-best $((ANON["ort-best $np"] / 1024)) MiB, daxfs-form $((ANON["daxfs-form $np"] / 1024)) MiB (+$(( (ANON["daxfs-form $np"] - ANON["ort-best $np"]) / 1024 )) MiB); PSS total $((PSS["ort-best $np"] / 1024)) vs $((PSS["daxfs-form $np"] / 1024)) MiB ($(ratio "${PSS["daxfs-form $np"]}" "${PSS["ort-best $np"]}"))"
done
