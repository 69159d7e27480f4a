# Sourced by the benchmark scripts: builds the samples module (and what it needs) once, sets REPO, JAVA,
# CP (the samples classes and their runtime class path), JOPTS (the JVM flags every benchmark process
# gets) and BENCH (where the inputs are cached), and defines helpers. Everything runs from REPO, so the
# programs' default paths (samples/target/...) resolve.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
JAVA=${JAVA:-$("$REPO/bin/find-jdk25")/bin/java}
BENCH=samples/target/bench
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "building (mvn -q -B package -pl samples -am -DskipTests)..." >&2
  mvn -q -B package -pl samples -am -DskipTests >&2
fi
CP="$REPO/samples/target/classes:$REPO/samples/target/lib/*"
# offline: libtorch comes from the pytorch-native-cpu jar on the class path, never the network.
JOPTS=(--enable-native-access=ALL-UNNAMED -Dai.djl.offline=true -DPYTORCH_FLAVOR=cpu
       -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)

# Makes (or finds, cached) the inputs of the named models: BenchFiles MODEL...
bench_files() { "$JAVA" "${JOPTS[@]}" -cp "$CP" dev.daxload.samples.bench.BenchFiles "$BENCH" "$@" >&2; }

# The machine, for the record: cores, CPU model, load, kernel, memory.
machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)," \
       "$(free -g | awk '/Mem:/ {print $2 " GiB RAM, " $7 " GiB available"}'), Linux $(uname -r), $("$JAVA" -version 2>&1 | head -1)"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
