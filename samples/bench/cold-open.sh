#!/usr/bin/env bash
# daxload's own share of a fresh process's start-up: from the call of ModelWeights.open to every tensor a
# view, in fresh JVMs (StartupProbe's own_ms, and own_cpu_ms: the main thread's CPU time over the same
# span, which a busy machine disturbs less). Before/after in the same run: the loader of BEFORE (a
# commit, default: where this branch left main) is built into a jar of its own and put first on the
# class path; each is run without and with a JDK 25 AOT cache trained on the same command
# (-XX:AOTCacheOutput, then -XX:AOTCache; same --enable-native-access in both, or the cache is refused).
#
#   open         ModelWeights.open, copy-on-write (the default; FileChannel.map(PRIVATE) where the file is writable,
#                else mmap through FFM), every tensor a TensorView
#   open-shared  the same mapped read-only shared (FileChannel.map after the change: no native linker)
#   pt-views     PyTorch engine started first (not counted), then open + PtTensorViews.viewAll
#
# usage: samples/bench/cold-open.sh [ROUNDS]    (default 5)
# env: MODELS ("bge synthetic-100m": 197 and 1,000 tensors), BEFORE (a commit), JAVA, SKIP_BUILD=1
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
MODELS=${MODELS:-bge synthetic-100m}
BEFORE=${BEFORE:-$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD~1)}
bench_files $MODELS

# Jars only: an AOT cache refuses directories on the class path.
AFTER_CP="$(ls "$REPO"/samples/target/daxload-samples-*.jar | grep -v -e tests -e sources -e javadoc | head -1):$REPO/samples/target/lib/*"
before_dir="$BENCH/before-$(git rev-parse --short "$BEFORE")"
if [ ! -f "$before_dir/loader.jar" ]; then
  echo "building the loader of $BEFORE into $before_dir/loader.jar" >&2
  rm -rf "$before_dir" && mkdir -p "$before_dir/src" "$before_dir/classes"
  git archive "$BEFORE" loader/src/main | tar -x -C "$before_dir/src"
  "$(dirname "$JAVA")/javac" -nowarn -d "$before_dir/classes" -cp "$REPO/samples/target/lib/*" \
      $(find "$before_dir/src/loader/src/main/java" -name '*.java') >&2
  cp -r "$before_dir/src/loader/src/main/resources/." "$before_dir/classes/" 2>/dev/null || true
  "$(dirname "$JAVA")/jar" cf "$before_dir/loader.jar" -C "$before_dir/classes" .
fi
BEFORE_CP="$before_dir/loader.jar:$AFTER_CP"
cat "$BENCH"/*.daxfs samples/target/lib/*.jar > /dev/null
machine
echo "before: $(git log -1 --format='%h %s' "$BEFORE" | cut -c1-80)"
echo "after:  $(git log -1 --format='%h %s' HEAD | cut -c1-80)$(git diff --quiet HEAD -- loader || echo ' (+ uncommitted changes)')"

MODES=(open open-shared pt-views)
VERSIONS=(before after)
cp_of() { if [ "$1" = before ]; then echo "$BEFORE_CP"; else echo "$AFTER_CP"; fi; }
probe() { # version mode model [cache options...] -> the READY line
  local version=$1 mode=$2 model=$3; shift 3
  "$JAVA" "${JOPTS[@]}" -Xmx2g "$@" -cp "$(cp_of "$version")" dev.daxload.samples.bench.StartupProbe "$mode" "$model" 2>/dev/null | grep '^READY'
}
declare -A OWN CPU PROC
for model in $MODELS; do
  # One cache per version, mode and model, trained on the command it then serves.
  for v in "${VERSIONS[@]}"; do for m in "${MODES[@]}"; do
    cache="$BENCH/cold-$v-$m-$model.aot"
    # A cache older than a jar was trained on other classes: the JVM would refuse it (and run slower).
    [ -f "$cache" ] && [ -n "$(find samples/target/lib "$before_dir/loader.jar" samples/target/*.jar -newer "$cache" -print -quit)" ] && rm -f "$cache"
    [ -f "$cache" ] || "$JAVA" "${JOPTS[@]}" -Xmx2g -XX:AOTCacheOutput="$cache" -cp "$(cp_of "$v")" \
        dev.daxload.samples.bench.StartupProbe "$m" "$model" > /dev/null 2>&1 || { echo "training $cache failed" >&2; exit 1; }
  done; done
  for r in $(seq 1 "$ROUNDS"); do
    keys=()
    for v in "${VERSIONS[@]}"; do for m in "${MODES[@]}"; do for c in none aot; do keys+=("$v $m $c"); done; done; done
    n=${#keys[@]}
    for i in $(seq 0 $((n - 1))); do
      read -r v m c <<< "${keys[$(( (i + r * 5) % n ))]}"
      opts=(); [ "$c" = aot ] && opts=(-XX:AOTCache="$BENCH/cold-$v-$m-$model.aot" -Xlog:aot=error)
      line=$(probe "$v" "$m" "$model" "${opts[@]}") || { echo "$v $m $c $model: no READY line" >&2; exit 1; }
      own=$(sed -n 's/.* own_ms=\([0-9.]*\).*/\1/p' <<< "$line"); cpu=$(sed -n 's/.* own_cpu_ms=\([0-9.]*\).*/\1/p' <<< "$line")
      proc=$(sed -n 's/.* own_proc_cpu_ms=\([0-9.]*\).*/\1/p' <<< "$line")
      OWN["$model $v $m $c"]+="$own "; CPU["$model $v $m $c"]+="${cpu:-0} "; PROC["$model $v $m $c"]+="${proc:-0} "
      printf 'round %d %-15s %-6s %-11s %-4s own %7s ms  cpu %7s ms  process cpu %7s ms\n' "$r" "$model" "$v" "$m" "$c" "$own" "${cpu:-?}" "${proc:-?}"
    done
  done
done
machine

echo
echo "median own_ms (wall) / own_cpu_ms (main thread CPU), ms; ratio = before / after (higher: after is faster)"
printf '%-15s %-11s %-5s %20s %20s %14s\n' model mode cache "before (wall/cpu)" "after (wall/cpu)" "ratio wall/cpu"
for model in $MODELS; do for m in "${MODES[@]}"; do for c in none aot; do
  bw=$(median ${OWN["$model before $m $c"]}); bc=$(median ${CPU["$model before $m $c"]})
  aw=$(median ${OWN["$model after $m $c"]}); ac=$(median ${CPU["$model after $m $c"]})
  printf '%-15s %-11s %-5s %20s %20s %14s\n' "$model" "$m" "$c" "$bw / $bc" "$aw / $ac" "$(ratio "$bw" "$aw") / $(ratio "$bc" "$ac")"
done; done; done
echo
echo "median own_proc_cpu_ms (every thread of the process: daxload's helpers, the JIT, the GC; 10 ms ticks), before -> after:"
for model in $MODELS; do for m in "${MODES[@]}"; do for c in none aot; do
  printf '  %-15s %-11s %-5s %s -> %s\n' "$model" "$m" "$c" "$(median ${PROC["$model before $m $c"]})" "$(median ${PROC["$model after $m $c"]})"
done; done; done
echo
echo "the AOT cache alone, after the change (no cache / cache):"
for model in $MODELS; do for m in "${MODES[@]}"; do
  printf '  %-15s %-11s %s (wall)\n' "$model" "$m" "$(ratio "$(median ${OWN["$model after $m none"]})" "$(median ${OWN["$model after $m aot"]})")"
done; done
