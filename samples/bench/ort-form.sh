#!/usr/bin/env bash
# ONNX Runtime's optimized form carried in the image, against the two plain ways and today's daxfs:
# bge-small-en-v1.5 served through DJL's ONNX Runtime engine four ways (OrtFormProbe), all with ORT's
# default session settings and raw token ids (no tokenizer, so only the model's time is measured):
#
#   onnx        the original .onnx file
#   ort-best    ONNX Runtime's own best form of it: optimized graph + external data + serialized
#               prepacked blobs (made once here, like pack-model --ort-prepack makes it)
#   daxfs       today's daxfs: defaults (tensors as initializers over the image, not prepacked)
#   daxfs-form  daxfs: of an image packed with --ort-prepack (ORT's form, blobs mapped from the image)
#
# 1. start-up: fresh JVMs, JVM start to the first answer (seq 16, batch 1); ROUNDS rounds, order rotated
# 2. latency: p50/p90 at seq 16/128/512, batch 1 and 8; the four ways in one JVM taking turns request by
#    request, LAT_ROUNDS JVMs (order rotated)
# 3. memory: 1 and 4 processes per mode each holding the model after one answer: RssAnon per process
#    (private memory) and PSS summed over the processes (shared pages divided among their users)
#
# usage: samples/bench/ort-form.sh [ROUNDS]    (default 5)
# env: MODEL (bge), LAT_ROUNDS (2), REPS_SCALE (1: latency repetitions x this), PROCS ("1 4"), JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
MODEL=${MODEL:-bge}
LAT_ROUNDS=${LAT_ROUNDS:-2}
REPS_SCALE=${REPS_SCALE:-1}
PROCS=(${PROCS:-1 4})
MODES=(onnx ort-best daxfs daxfs-form)
bench_files "$MODEL"
"$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe make "$MODEL" >&2
# Every input once, so each process starts with them in the page cache.
cat "$BENCH/$MODEL".* "$BENCH/$MODEL"-ortbest/* "$BENCH/$MODEL-ortform.daxfs" samples/target/models/*/* samples/target/lib/*.jar > /dev/null
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# A server that runs only ONNX Runtime does not load PyTorch; DJL's ORT engine would load it as its
# "alternative engine" because the samples' class path has it, costing every mode the same 0.5-1 s.
JOPTS+=(-Dai.djl.onnx.disable_alternative=true)
probe() { "$JAVA" "${JOPTS[@]}" -Xmx2g -Dreps.scale="$REPS_SCALE" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe "$@" 2>/dev/null; }
machine
echo "model: $MODEL; ORT form in the image: $(du -h "$BENCH/$MODEL-ortform.daxfs" | cut -f1), ORT's best form: $(du -ch "$BENCH/$MODEL"-ortbest/* | tail -1 | cut -f1)"

declare -A FIRST LOAD LAT
n=${#MODES[@]}
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((n - 1))); do
    m=${MODES[$(( (i + r) % n ))]}
    line=$(probe start "$m" "$MODEL" | grep '^READY') || { echo "start $m failed" >&2; exit 1; }
    f=$(sed -n 's/.*first_ms=\([0-9.]*\).*/\1/p' <<< "$line"); l=$(sed -n 's/.*load_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    FIRST[$m]+="$f "; LOAD[$m]+="$l "
    printf 'start round %d %-11s first answer %6s ms  load %8s ms  %s\n' "$r" "$m" "$f" "$l" "$(grep -o 'check=.*' <<< "$line")"
  done
done
# Latency: the four ways in one JVM taking turns request by request (see OrtFormProbe.latency), so
# the shared machine's slow spells fall on all of them; LAT_ROUNDS JVMs, the mode order rotated.
for r in $(seq 1 "$LAT_ROUNDS"); do
  order=(); for i in $(seq 0 $((n - 1))); do order+=("${MODES[$(( (i + r) % n ))]}"); done
  while read -r line; do
    m=$(sed -n 's/.*mode=\([a-z-]*\).*/\1/p' <<< "$line")
    s=$(sed -n 's/.*seq=\([0-9]*\).*/\1/p' <<< "$line"); b=$(sed -n 's/.*batch=\([0-9]*\).*/\1/p' <<< "$line")
    LAT["$m $s $b p50"]+="$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<< "$line") "
    LAT["$m $s $b p90"]+="$(sed -n 's/.*p90_ms=\([0-9.]*\).*/\1/p' <<< "$line") "
    echo "latency round $r $line"
  done < <(probe latency "$(IFS=,; echo "${order[*]}")" "$MODEL" | grep '^LAT')
done
declare -A ANON PSS
for np in "${PROCS[@]}"; do
  for m in "${MODES[@]}"; do
    PIDS=(); LOGS=()
    for k in $(seq 1 "$np"); do
      log=$(mktemp); LOGS+=("$log")
      "$JAVA" "${JOPTS[@]}" -Xmx1g -cp "$CP" dev.daxload.samples.bench.OrtFormProbe hold "$m" "$MODEL" > "$log" 2>/dev/null &
      PIDS+=($!)
    done
    for t in $(seq 1 300); do
      ready=$(cat "${LOGS[@]}" | grep -c '^READY' || true)
      [ "$ready" -eq "$np" ] && break
      sleep 1
    done
    [ "$ready" -eq "$np" ] || { echo "memory $m x$np: only $ready ready" >&2; exit 1; }
    sleep 2
    anon=0; pss=0
    for p in "${PIDS[@]}"; do
      anon=$((anon + $(awk '/^RssAnon:/ {print $2}' "/proc/$p/status")))
      pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
    done
    ANON["$m $np"]=$((anon / np)); PSS["$m $np"]=$pss
    printf 'memory %-11s x%d: RssAnon per process %7d KiB, PSS total %8d KiB\n' "$m" "$np" $((anon / np)) "$pss"
    cleanup; PIDS=(); rm -f "${LOGS[@]}"
  done
done
machine

echo
printf '| %s, medians |' "$MODEL"; for m in "${MODES[@]}"; do printf ' %s |' "$m"; done; echo
printf '|---|'; for m in "${MODES[@]}"; do printf -- '---:|'; done; echo
printf '| JVM start to first answer (ms) |'; for m in "${MODES[@]}"; do printf ' %s |' "$(median ${FIRST[$m]})"; done; echo
printf '| model load call (ms) |'; for m in "${MODES[@]}"; do printf ' %s |' "$(median ${LOAD[$m]})"; done; echo
for b in 1 8; do for s in 16 128 512; do
  printf '| latency p50 / p90, seq %d batch %d (ms) |' "$s" "$b"
  for m in "${MODES[@]}"; do printf ' %s / %s |' "$(median ${LAT["$m $s $b p50"]})" "$(median ${LAT["$m $s $b p90"]})"; done; echo
done; done
for np in "${PROCS[@]}"; do
  printf '| RssAnon per process, %d processes (MiB) |' "$np"; for m in "${MODES[@]}"; do printf ' %d |' $((ANON["$m $np"] / 1024)); done; echo
  printf '| PSS total, %d processes (MiB) |' "$np"; for m in "${MODES[@]}"; do printf ' %d |' $((PSS["$m $np"] / 1024)); done; echo
done
echo
echo "ratios (daxfs-form against the others; below 1 means daxfs-form is faster/smaller):"
for m in onnx ort-best daxfs; do
  echo "  first answer, daxfs-form / $m: $(ratio "$(median ${FIRST[daxfs-form]})" "$(median ${FIRST[$m]})")"
done
for b in 1 8; do for s in 16 128 512; do
  best=$(printf '%s\n' "$(median ${LAT["onnx $s $b p50"]})" "$(median ${LAT["ort-best $s $b p50"]})" | sort -g | head -1)
  echo "  p50 seq $s batch $b, daxfs-form / faster ORT way: $(ratio "$(median ${LAT["daxfs-form $s $b p50"]})" "$best")"
done; done
for np in "${PROCS[@]}"; do
  echo "  RssAnon per process x$np, daxfs-form - ort-best: $(( (ANON["daxfs-form $np"] - ANON["ort-best $np"]) / 1024 )) MiB; PSS total daxfs-form / ort-best: $(ratio "${PSS["daxfs-form $np"]}" "${PSS["ort-best $np"]}")"
done
