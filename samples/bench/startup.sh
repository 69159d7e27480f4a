#!/usr/bin/env bash
# Whole-process start-up: fresh JVMs, each loading a model one way, timed from the JVM's start (its own
# RuntimeMXBean start time) to "model ready", as StartupProbe prints it. Every round runs every mode
# once, in a rotated order, so a slow spell of the shared machine falls on all modes alike.
#
#   ONNX Runtime through DJL's Criteria, all-MiniLM-L6-v2 (MODEL_ORT):
#     criteria-daxfs          daxfs: URL, prepacking off (the URL's default: weights used in place)
#     criteria-daxfs-prepack  daxfs: URL with prepacking=true (ONNX Runtime's default, as the baseline)
#     criteria-onnx           the original .onnx file, Criteria.optModelPath (ONNX Runtime's defaults)
#   PyTorch arrays, bge-small-en-v1.5 (MODEL_PT):
#     pt-views                ModelWeights.open + PtTensorViews.viewAll
#     pt-decode               NDList.decode of a safetensors file of the same tensors
#     pt-direct               each tensor read into a direct buffer, manager.create
#     pt-views-8g             pt-views of the 8.6 GB synthetic model, if its image was made (jmh.sh makes it)
#
# daxload's own share alone (open to every tensor a view, before/after, with and without an AOT cache):
# samples/bench/cold-open.sh.
#
# usage: samples/bench/startup.sh [ROUNDS]     (default 7)
# env: MODEL_ORT (minilm), MODEL_PT (bge), JAVA, SKIP_BUILD=1
# All files are read once first, so every process starts with its inputs in the page cache.
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-7}
MODEL_ORT=${MODEL_ORT:-minilm}
MODEL_PT=${MODEL_PT:-bge}
bench_files "$MODEL_ORT" "$MODEL_PT"
MODES=(criteria-daxfs criteria-daxfs-prepack criteria-onnx pt-views pt-decode pt-direct)
[ -f "$BENCH/synthetic-8g.daxfs" ] && MODES+=(pt-views-8g)
cat "$BENCH/$MODEL_ORT".* "$BENCH/$MODEL_PT".* samples/target/lib/*.jar > /dev/null
cat samples/target/models/*/* > /dev/null
machine

declare -A READY LOAD FIRST STEP
probe() { # mode -> one line of results
  local mode=$1 model args line
  case $mode in
    criteria-*) model=$MODEL_ORT ;;
    pt-views-8g) mode=pt-views; model=synthetic-8g ;;
    *) model=$MODEL_PT ;;
  esac
  # The ONNX Runtime modes run ORT alone, as a server would: without this DJL loads PyTorch too, as ORT's
  # "alternative engine" (0.5-1 s in each of them).
  local only_ort=(); [[ $mode == criteria-* ]] && only_ort=(-Dai.djl.onnx.disable_alternative=true)
  line=$("$JAVA" "${JOPTS[@]}" "${only_ort[@]}" -Xmx2g -cp "$CP" dev.daxload.samples.bench.StartupProbe "$mode" "$model" 2>/dev/null | grep '^READY')
  echo "$line"
}
for r in $(seq 1 "$ROUNDS"); do
  n=${#MODES[@]}
  for i in $(seq 0 $((n - 1))); do
    m=${MODES[$(( (i + r) % n ))]}
    line=$(probe "$m" || true)
    ready=$(sed -n 's/.*ready_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    load=$(sed -n 's/.*load_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    first=$(sed -n 's/.*first_ms=\([0-9.]*\).*/\1/p' <<< "$line")
    [ -n "$ready" ] || { echo "round $r $m: no READY line (failed)" >&2; exit 1; }
    READY[$m]+="$ready "; LOAD[$m]+="$load "; FIRST[$m]+="${first:-} "
    # The PyTorch modes' steps (engine_ms, open_ms, views_ms, copy_ms), kept for their medians.
    steps=$(grep -o '[a-z_]*_ms=[0-9.]*' <<< "$line" | grep -v '^\(ready\|load\|first\)_ms' | tr '\n' ' ' || true)
    for kv in $steps; do STEP["$m ${kv%%=*}"]+="${kv#*=} "; done
    printf 'round %d %-24s ready %6s ms  load %8s ms%s  %s\n' "$r" "$m" "$ready" "$load" "${first:+  first embedding $first ms}" "$steps"
  done
done
machine

echo
printf '%-24s %18s %16s %22s\n' mode "median ready (ms)" "median load (ms)" "median first emb. (ms)"
declare -A MR ML
for m in "${MODES[@]}"; do
  MR[$m]=$(median ${READY[$m]}); ML[$m]=$(median ${LOAD[$m]})
  f=$(median ${FIRST[$m]} 2>/dev/null); [ -n "${FIRST[$m]// /}" ] || f=-
  printf '%-24s %18s %16s %22s\n' "$m" "${MR[$m]}" "${ML[$m]}" "$f"
done
echo
echo "median steps of the PyTorch modes (ms):"
for key in $(printf '%s\n' "${!STEP[@]}" | sort | tr ' ' '|'); do
  k=${key//|/ }
  printf '  %-32s %8s\n' "$k" "$(median ${STEP[$k]})"
done
echo
echo "ratios of median JVM-start-to-ready (baseline / daxfs; higher means daxfs is faster):"
echo "  criteria-onnx / criteria-daxfs:         $(ratio "${MR[criteria-onnx]}" "${MR[criteria-daxfs]}")  (load call alone: $(ratio "${ML[criteria-onnx]}" "${ML[criteria-daxfs]}"))"
echo "  criteria-onnx / criteria-daxfs-prepack: $(ratio "${MR[criteria-onnx]}" "${MR[criteria-daxfs-prepack]}")  (load call alone: $(ratio "${ML[criteria-onnx]}" "${ML[criteria-daxfs-prepack]}"))"
echo "  pt-decode / pt-views:                   $(ratio "${MR[pt-decode]}" "${MR[pt-views]}")"
echo "  pt-direct / pt-views:                   $(ratio "${MR[pt-direct]}" "${MR[pt-views]}")"
[ -n "${MR[pt-views-8g]:-}" ] && echo "  pt-views-8g / pt-views ($MODEL_PT):         $(ratio "${MR[pt-views-8g]}" "${MR[pt-views]}")"
true
