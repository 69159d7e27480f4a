#!/usr/bin/env bash
# The sample embedding server's cold start, fresh process to first answer, from a daxfs image against the
# same server loading the original .onnx file the usual way (Criteria.optModelPath, ONNX Runtime's
# defaults), each without and with a JDK 25 AOT cache trained on the same command. The time is the
# server's own log line "start-up: first answer done at N ms since JVM start". Every round runs every
# mode once, in a rotated order.
#
#   daxfs       EmbeddingServer --image BENCH/<model>.daxfs --model <model>   (weights in place, mapped read-only)
#   daxfs-form  the same over BENCH/<model>-ortform.daxfs, packed with --ort-prepack (ONNX Runtime's own optimized
#               form and prepacked weights in the image; made by OrtFormProbe make MODEL where missing)
#   onnx        EmbeddingServer --onnx <model>.onnx --tokenizer <model>-tokenizer.json
#
# usage: samples/bench/server-startup.sh [ROUNDS]    (default 5)
# env: MODELS ("minilm bge"), MODES ("daxfs onnx"; add daxfs-form), JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
MODELS=${MODELS:-minilm bge}
MODES=(${MODES:-daxfs onnx})
bench_files $MODELS
for model in $MODELS; do
  if [[ " ${MODES[*]} " == *" daxfs-form "* ]] && [ ! -f "$BENCH/$model-ortform.daxfs" ]; then
    "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.OrtFormProbe make "$model" >&2
  fi
done
CP_JARS="$(ls "$REPO"/samples/target/daxload-samples-*.jar | grep -v -e tests -e sources -e javadoc | head -1):$REPO/samples/target/lib/*"
cat "$BENCH"/*.daxfs samples/target/models/*/* samples/target/lib/*.jar > /dev/null
# A server that runs only ONNX Runtime does not load PyTorch; DJL's ORT engine would load it as its
# "alternative engine" because the samples' class path has it: 0.5-1 s more in both ways, and the largest
# single source of round-to-round spread (bin/daxload-serve passes the same).
JOPTS+=(-Dai.djl.onnx.disable_alternative=true)
machine
args_of() { # mode model -> the server's arguments
  local dir file pooling=mean
  case $2 in
    minilm) file=all-minilm-l6-v2 ;;
    bge) file=bge-small-en-v1.5; pooling=cls ;;
  esac
  dir=samples/target/models/$file
  if [ "$1" = daxfs ]; then echo "--image $BENCH/$2.daxfs --model $2 --pooling $pooling --port 0 --exit-after-start"
  elif [ "$1" = daxfs-form ]; then echo "--image $BENCH/$2-ortform.daxfs --model $2 --pooling $pooling --port 0 --exit-after-start"
  else echo "--onnx $dir/$file.onnx --tokenizer $dir/$file-tokenizer.json --pooling $pooling --port 0 --exit-after-start"; fi
}
run() { # mode model cache -> ms to first answer
  local opts=()
  [ "$3" = aot ] && opts=(-XX:AOTCache="$BENCH/server-$1-$2.aot" -Xlog:aot=error)
  # shellcheck disable=SC2046
  "$JAVA" "${JOPTS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=info "${opts[@]}" -cp "$CP_JARS" \
      dev.daxload.samples.server.EmbeddingServer $(args_of "$1" "$2") 2>&1 | sed -n 's/.*first answer done at \([0-9]*\) ms.*/\1/p'
}
declare -A T
for model in $MODELS; do
  for m in "${MODES[@]}"; do
    cache="$BENCH/server-$m-$model.aot"
    [ -f "$cache" ] && [ -n "$(find samples/target/lib samples/target/*.jar -newer "$cache" -print -quit)" ] && rm -f "$cache"
    # shellcheck disable=SC2046
    [ -f "$cache" ] || "$JAVA" "${JOPTS[@]}" -XX:AOTCacheOutput="$cache" -cp "$CP_JARS" dev.daxload.samples.server.EmbeddingServer \
        $(args_of "$m" "$model") > /dev/null 2>&1 || { echo "training $cache failed" >&2; exit 1; }
  done
  keys=(); for m in "${MODES[@]}"; do keys+=("$m none" "$m aot"); done
  n=${#keys[@]}
  for r in $(seq 1 "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
      read -r m c <<< "${keys[$(( (i + r) % n ))]}"
      ms=$(run "$m" "$model" "$c")
      [ -n "$ms" ] || { echo "$model $m $c: no first answer" >&2; exit 1; }
      T["$model $m $c"]+="$ms "
      printf 'round %d %-7s %-10s %-5s first answer at %5s ms\n' "$r" "$model" "$m" "$c" "$ms"
    done
  done
done
machine
echo
printf '%-7s %-5s %-10s %12s %12s %20s\n' model cache way "way (ms)" "onnx (ms)" "ratio onnx / way"
for model in $MODELS; do for c in none aot; do for m in "${MODES[@]}"; do
  [ "$m" = onnx ] && continue
  d=$(median ${T["$model $m $c"]})
  if [ -n "${T["$model onnx $c"]:-}" ]; then
    o=$(median ${T["$model onnx $c"]})
    printf '%-7s %-5s %-10s %12s %12s %20s\n' "$model" "$c" "$m" "$d" "$o" "$(ratio "$o" "$d")"
  else
    printf '%-7s %-5s %-10s %12s %12s %20s\n' "$model" "$c" "$m" "$d" - - # onnx not among MODES
  fi
done; done; done
