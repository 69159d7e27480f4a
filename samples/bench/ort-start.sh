#!/usr/bin/env bash
# Start-up and memory of the daxfs: route with ORT's form from the image against ONNX Runtime's own best
# form: the start-up and memory phases of ort-form.sh (same probe, same inputs, made by it), plus ORT's
# best form with ORT's native library taken from the per-host copy the daxfs: route makes (ORT's own
# -Donnxruntime.native.path), so that what the route gains there is shown apart from the rest.
#
#   ort-best             ONNX Runtime's own best form of bge-small (optimized graph, data file, blobs)
#   ort-best-libcache    the same, ORT told where its native library already lies (no inflation from its jar)
#   daxfs-form           daxfs: of the image packed with --ort-prepack
#   daxfs-form-serial    the same with -Ddaxload.ortHeadStart=false: ORT's engine started on the loading
#                        thread after daxload's own work, not beside it (only with SERIAL=1)
#
# For each start: JVM start to first answer (ms) and the process's CPU time (user + sys, ms): on a machine
# shared with other work the CPU time is the steadier measure of how much each way does.
#
# usage: samples/bench/ort-start.sh [ROUNDS]   (default 7, 0 for memory only; run ort-form.sh once first to make the inputs)
# env: MODEL (bge), PROCS ("1 4"), AOT=1 (every way with a JDK AOT cache trained on its own start, same flags),
#      SKIP_BUILD=1, CP_OVERRIDE (a class path to run instead of the build's)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-7}
MODEL=${MODEL:-bge}
PROCS=(${PROCS:-1 4})
CP=${CP_OVERRIDE:-$CP}
# An AOT cache refuses directories on the class path: the samples jar instead of its classes directory.
[ "${AOT:-0}" = 1 ] && [ -z "${CP_OVERRIDE:-}" ] && CP="$(ls "$REPO"/samples/target/daxload-samples-*.jar | grep -v -e tests -e sources -e javadoc | head -1):$REPO/samples/target/lib/*"
JOPTS+=(-Dai.djl.onnx.disable_alternative=true)
MODES=(ort-best ort-best-libcache daxfs-form)
[ "${SERIAL:-0}" = 1 ] && MODES+=(daxfs-form-serial)
LIBCACHE=""
way() { # MODE -> ARGS: the JVM's arguments up to the probe's class name, MODEL_MODE: the probe's mode
  local m=$1 extra=()
  case "$m" in
    ort-best-libcache) extra=(-Donnxruntime.native.path="$LIBCACHE"); m=ort-best ;;
    daxfs-form-serial) extra=(-Ddaxload.ortHeadStart=false); m=daxfs-form ;;
  esac
  [ "${AOT:-0}" = 1 ] && extra+=(-XX:AOTCache="$BENCH/ort-start-$m.aot" -Xlog:aot=error)
  ARGS=("${JOPTS[@]}" "${extra[@]}" -Xmx1g -cp "$CP" dev.daxload.samples.bench.OrtFormProbe); MODEL_MODE=$m
}
run() { # MODE COMMAND -> the probe for that way
  way "$1"
  # exec: run in a subshell (command substitution, background), whose pid then is the JVM's
  exec "$JAVA" "${ARGS[@]}" "$2" "$MODEL_MODE" "$MODEL"
}
machine
# One daxfs-form start first: it makes the per-host copy of ORT's native library (once per host) that
# ort-best-libcache points ORT at; with AOT=1 also the caches, each trained on its own way's start.
for m in daxfs-form ort-best; do
  if [ "${AOT:-0}" = 1 ]; then
    rm -f "$BENCH/ort-start-$m.aot"
    "$JAVA" "${JOPTS[@]}" -Xmx1g -XX:AOTCacheOutput="$BENCH/ort-start-$m.aot" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe start "$m" "$MODEL" > /dev/null 2>&1 \
      || { echo "AOT training of $m failed" >&2; exit 1; }
  else
    "$JAVA" "${JOPTS[@]}" -Xmx1g -cp "$CP" dev.daxload.samples.bench.OrtFormProbe start "$m" "$MODEL" > /dev/null 2>&1
  fi
done
LIBCACHE=$(ls -dt "${ENGINE_CACHE_DIR:-${DJL_CACHE_DIR:-$HOME/.djl.ai}}"/onnxruntime/native-*-onnxruntime-* | head -1)
echo "ORT's native library per host: $LIBCACHE; AOT cache: ${AOT:-0}"
declare -A FIRST CPU ANON PSS
n=${#MODES[@]}
TIMEFORMAT="CPU %U %S"
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((n - 1))); do
    m=${MODES[$(( (i + r) % n ))]}
    way "$m"
    out=$( { time "$JAVA" "${ARGS[@]}" start "$MODEL_MODE" "$MODEL" 2>/dev/null; } 2>&1 )
    f=$(sed -n 's/^READY.*first_ms=\([0-9]*\).*/\1/p' <<< "$out")
    c=$(awk '/^CPU/ {printf "%d", ($2 + $3) * 1000}' <<< "$out")
    [ -n "$f" ] || { echo "start $m failed: $out" >&2; exit 1; }
    FIRST[$m]+="$f "; CPU[$m]+="$c "; echo "start round $r $m first answer $f ms, CPU $c ms, load $(cut -d' ' -f1 /proc/loadavg)"
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
[ "$ROUNDS" -gt 0 ] && for m in "${MODES[@]}"; do
  echo "first answer $m (ms, sorted): $(printf '%s\n' ${FIRST[$m]} | sort -n | tr '\n' ' ')median $(median ${FIRST[$m]}); CPU median $(median ${CPU[$m]}) ms"
done
[ "$ROUNDS" -gt 0 ] && for b in ort-best ort-best-libcache; do
  for m in "${MODES[@]:2}"; do
    echo "$m / $b: first answer $(ratio "$(median ${FIRST[$m]})" "$(median ${FIRST[$b]})"), CPU $(ratio "$(median ${CPU[$m]})" "$(median ${CPU[$b]})")"
  done
done
for np in "${PROCS[@]}"; do
  echo "x$np: RssAnon per process ort-best $((ANON["ort-best $np"] / 1024)) MiB, daxfs-form $((ANON["daxfs-form $np"] / 1024)) MiB (+$(( (ANON["daxfs-form $np"] - ANON["ort-best $np"]) / 1024 )) MiB); PSS total $((PSS["ort-best $np"] / 1024)) vs $((PSS["daxfs-form $np"] / 1024)) MiB ($(ratio "${PSS["daxfs-form $np"]}" "${PSS["ort-best $np"]}"))"
done
