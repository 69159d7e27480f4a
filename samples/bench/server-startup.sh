#!/usr/bin/env bash
# The sample embedding server's cold start, fresh process to first answer, from a daxfs image against the
# same server loading the original .onnx file the usual way (Criteria.optModelPath, ONNX Runtime's
# defaults), each without and with a JDK 25 AOT cache trained on the same command. The time is the
# server's own log line "start-up: first answer done at N ms since JVM start". Every round runs every
# mode once, in a rotated order.
#
#   daxfs   EmbeddingServer --image BENCH/<model>.daxfs --model <model>   (weights in place, mapped read-only)
#   onnx    EmbeddingServer --onnx <model>.onnx --tokenizer <model>-tokenizer.json
#
# usage: samples/bench/server-startup.sh [ROUNDS]    (default 5)
# env: MODELS ("minilm bge"), JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
MODELS=${MODELS:-minilm bge}
bench_files $MODELS
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
  for m in daxfs onnx; do
    cache="$BENCH/server-$m-$model.aot"
    [ -f "$cache" ] && [ -n "$(find samples/target/lib samples/target/*.jar -newer "$cache" -print -quit)" ] && rm -f "$cache"
    # shellcheck disable=SC2046
    [ -f "$cache" ] || "$JAVA" "${JOPTS[@]}" -XX:AOTCacheOutput="$cache" -cp "$CP_JARS" dev.daxload.samples.server.EmbeddingServer \
        $(args_of "$m" "$model") > /dev/null 2>&1 || { echo "training $cache failed" >&2; exit 1; }
  done
  keys=("daxfs none" "onnx none" "daxfs aot" "onnx aot")
  for r in $(seq 1 "$ROUNDS"); do
    for i in 0 1 2 3; do
      read -r m c <<< "${keys[$(( (i + r) % 4 ))]}"
      ms=$(run "$m" "$model" "$c")
      [ -n "$ms" ] || { echo "$model $m $c: no first answer" >&2; exit 1; }
      T["$model $m $c"]+="$ms "
      printf 'round %d %-7s %-6s %-5s first answer at %5s ms\n' "$r" "$model" "$m" "$c" "$ms"
    done
  done
done
machine
echo
printf '%-7s %-5s %16s %16s %22s\n' model cache "daxfs (ms)" "onnx (ms)" "ratio onnx / daxfs"
for model in $MODELS; do for c in none aot; do
  d=$(median ${T["$model daxfs $c"]}); o=$(median ${T["$model onnx $c"]})
  printf '%-7s %-5s %16s %16s %22s\n' "$model" "$c" "$d" "$o" "$(ratio "$o" "$d")"
done; done
