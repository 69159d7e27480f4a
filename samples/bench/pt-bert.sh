#!/usr/bin/env bash
# Issue 21, item 3: a whole BERT served through DJL's PyTorch engine, weights as daxload's views of the
# image against the same model loaded the plain way (DJL's own safetensors reader, NDList.decode):
# all-MiniLM-L6-v2 (or bge-small) as dev.daxload.samples.bert.BertEncoder with its real weights
# (PtBertLatencyProbe). The two answer the same bits (checked on every shape); latency per request at
# sequence 16/128, batch 1/8, the two taking turns request by request in one JVM, ROUNDS JVMs; medians of
# the rounds' p50/p90 and the ratio views / copied.
#
# usage: samples/bench/pt-bert.sh [ROUNDS]    (default 3)
# env: MODEL (minilm), REPS_SCALE (1), PT_THREADS (1: libtorch's intra-op threads; on a machine shared with
#      other work, 2 spinning OpenMP threads per request measure the neighbours, not the model), SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
MODEL=${MODEL:-minilm}
REPS_SCALE=${REPS_SCALE:-1}
PT_THREADS=${PT_THREADS:-1}
bench_files "$MODEL"
cat "$BENCH/$MODEL".* > /dev/null
machine
echo "model: $MODEL; libtorch threads: $PT_THREADS"
declare -A LAT
for r in $(seq 1 "$ROUNDS"); do
  while read -r line; do
    m=$(sed -n 's/.*mode=\([a-z]*\).*/\1/p' <<< "$line")
    s=$(sed -n 's/.*seq=\([0-9]*\).*/\1/p' <<< "$line"); b=$(sed -n 's/.*batch=\([0-9]*\).*/\1/p' <<< "$line")
    LAT["$m $s $b p50"]+="$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<< "$line") "
    LAT["$m $s $b p90"]+="$(sed -n 's/.*p90_ms=\([0-9.]*\).*/\1/p' <<< "$line") "
    echo "round $r $line"
  done < <("$JAVA" "${JOPTS[@]}" -Xmx2g -Dai.djl.pytorch.num_threads="$PT_THREADS" -Dai.djl.pytorch.num_interop_threads=1 \
             -cp "$CP" dev.daxload.samples.bench.PtBertLatencyProbe "$MODEL" "$REPS_SCALE" 2>/dev/null | grep '^LAT')
done
machine
echo
echo "| $MODEL on PyTorch, medians of $ROUNDS rounds | views p50 / p90 (ms) | copied p50 / p90 (ms) | views / copied (p50) |"
echo "|---|---:|---:|---:|"
for b in 1 8; do for s in 16 128; do
  v=$(median ${LAT["views $s $b p50"]}); c=$(median ${LAT["copied $s $b p50"]})
  echo "| seq $s, batch $b | $v / $(median ${LAT["views $s $b p90"]}) | $c / $(median ${LAT["copied $s $b p90"]}) | $(ratio "$v" "$c") |"
done; done
