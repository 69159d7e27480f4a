#!/usr/bin/env bash
# Memory of N sample embedding servers on one host: N instances of EmbeddingServer serving the same model
# from one daxfs image (weights mapped read-only, shared; daxfs-form: the image packed with --ort-prepack,
# ONNX Runtime's form with its prepacked blobs mapped from the image) against N instances loading the
# original .onnx file the usual way. Each instance is started, answers one request (its start-up log line), and is held
# while the script reads /proc/PID/smaps_rollup of every instance: PSS (the fair share of shared pages)
# and private memory (Private_Clean + Private_Dirty). The image's pages are shared by every instance.
#
# usage: samples/bench/server-pss.sh [COUNTS]     (default "1 2 4 8")
# env: MODEL (minilm | bge; default minilm), MODES ("daxfs onnx"; daxfs-form too), SERVER_JVM_OPTS (added to every
#      instance's JVM flags, e.g. "-XX:+UseSerialGC -Xmx256m"), JAVA, SKIP_BUILD=1, CSV (default
#      samples/target/bench/server-pss-MODEL.csv: model,mode,n,pss_mib,private_mib; samples/bench/plot.sh draws it)
source "$(dirname "$0")/common.sh"
COUNTS=${1:-1 2 4 8}
MODEL=${MODEL:-minilm}
bench_files "$MODEL"
[[ " ${MODES:-} " == *" daxfs-form "* ]] && "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe make "$MODEL" >&2
CP_JARS="$(ls "$REPO"/samples/target/daxload-samples-*.jar | grep -v -e tests -e sources -e javadoc | head -1):$REPO/samples/target/lib/*"
case $MODEL in
  minilm) file=all-minilm-l6-v2; pooling=mean ;;
  bge) file=bge-small-en-v1.5; pooling=cls ;;
esac
dir=samples/target/models/$file
cat "$BENCH/$MODEL"*.daxfs "$dir"/* > /dev/null
args_of() {
  if [ "$1" = daxfs-form ]; then echo "--image $BENCH/$MODEL-ortform.daxfs --model $MODEL --pooling $pooling --port 0 --threads 1"
  elif [ "$1" = daxfs ]; then echo "--image $BENCH/$MODEL.daxfs --model $MODEL --pooling $pooling --port 0 --threads 1"
  else echo "--onnx $dir/$file.onnx --tokenizer $dir/$file-tokenizer.json --pooling $pooling --port 0 --threads 1"; fi
}
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/smaps_rollup"; }
CSV=${CSV:-$BENCH/server-pss-$MODEL.csv}
echo "model,mode,n,pss_mib,private_mib" > "$CSV"
machine
echo "instances' extra JVM flags: ${SERVER_JVM_OPTS:-(none)}"
printf '%-10s %3s %14s %14s %18s\n' mode n "PSS total MiB" "private MiB" "PSS per instance"
for n in $COUNTS; do
  for mode in ${MODES:-daxfs onnx}; do
    pids=(); logs=()
    for i in $(seq 1 "$n"); do
      log=$(mktemp); logs+=("$log")
      # shellcheck disable=SC2046
      # shellcheck disable=SC2086
      "$JAVA" "${JOPTS[@]}" ${SERVER_JVM_OPTS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=info -cp "$CP_JARS" \
          dev.daxload.samples.server.EmbeddingServer $(args_of "$mode") > "$log" 2>&1 &
      pids+=($!)
    done
    for log in "${logs[@]}"; do
      for _ in $(seq 1 600); do grep -q "first answer done" "$log" && break; sleep 0.2; done
      grep -q "first answer done" "$log" || { echo "$mode: an instance did not start: $(tail -3 "$log")" >&2; kill "${pids[@]}"; exit 1; }
    done
    pss=0; priv=0
    for p in "${pids[@]}"; do
      pss=$(( pss + $(kb "$p" Pss) )); priv=$(( priv + $(kb "$p" Private_Clean) + $(kb "$p" Private_Dirty) ))
    done
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; rm -f "${logs[@]}"
    printf '%-10s %3d %14d %14d %18d\n' "$mode" "$n" $(( pss / 1024 )) $(( priv / 1024 )) $(( pss / 1024 / n ))
    echo "$MODEL,$mode,$n,$(( pss / 1024 )),$(( priv / 1024 ))" >> "$CSV"
  done
done
machine
