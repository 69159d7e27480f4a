#!/usr/bin/env bash
# GPU checks for daxload's CUDA paths, on a machine with an NVIDIA GPU and driver but no Maven,
# no network and perhaps no JDK. Two steps:
#
#   1. On the build machine (Maven, Temurin 25):
#        dmabuf-bridge/gpu/run-gpu-checks.sh prepare
#      builds the jars and collects into .work/gpu (ignored by git, kept under 64 MiB so that the
#      device tool can carry it):
#        .work/gpu/jdk           a jlinked Java 25 runtime, made with
#                                  jlink --add-modules java.base,java.logging,java.xml,jdk.unsupported,jdk.zipfs \
#                                        --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output .work/gpu/jdk
#                                  strip --strip-unneeded .work/gpu/jdk/lib/server/libjvm.so
#                                (about 42 MiB: java.xml and jdk.zipfs are for JUnit: XML reports, scanning jars)
#        .work/gpu/lib           the command line's runtime jars (packager, loader, dmabuf-bridge with its JNI library, picocli,
#                                gson, protobuf, javacpp, org.bytedeco cuda + linux-x86_64) and JUnit's console launcher;
#                                no DJL PyTorch native jar (112 MB: it cannot travel, and nothing here needs it)
#        .work/gpu/test-classes  the bridge's test classes (CudaDeviceTest, CudaStandInTest, ...)
#
#   2. On the GPU machine, from the repository root with .work/gpu carried along:
#        dmabuf-bridge/gpu/run-gpu-checks.sh run
#      (with the device tool: run(command="dmabuf-bridge/gpu/run-gpu-checks.sh run", carry=[".work/gpu"]))
#      It prints the driver and devices, packs a test image (DAXLOAD_GPU_IMAGE_MB, default 512 MiB of
#      incompressible data plus a small file), runs `daxload gpu load IMAGE --share SOCKET --clients 2
#      --try-mount DIR` as the holder, attaches twice from two more processes (`daxload gpu attach`),
#      and runs the bridge's CUDA tests with JUnit. Logs and JUnit XML go to $OUT (or .work/gpu/out).
#      Exit status: 0 when every step passed.
#
# Bindings: javacpp-presets CUDA needs libcudart.so.13 (a CUDA 13 toolkit); without it daxload uses
# the driver library alone through FFM. Set DAXLOAD_CUDA_BACKEND=javacpp or ffm to force one; the
# script runs the tests with both when libcudart.so.13 is found.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GPU=$ROOT/.work/gpu

prepare() {
    local jdk=${JAVA_HOME_25:-$("$ROOT/bin/find-jdk25")}
    (cd "$ROOT" && mvn -q -B -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true package -pl loader,dmabuf-bridge,packager,cli -am)
    (cd "$ROOT" && mvn -q -B -pl loader,dmabuf-bridge -am test-compile dependency:build-classpath \
        -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt)
    local junit_version console
    junit_version=$(sed -n 's:.*<junit.version>5\.\([0-9.]*\)</junit.version>.*:1.\1:p' "$ROOT/pom.xml")
    console=$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$junit_version/junit-platform-console-standalone-$junit_version.jar
    [ -f "$console" ] || (cd "$ROOT" && mvn -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:"$junit_version" -Dtransitive=false)
    rm -rf "$GPU"
    mkdir -p "$GPU/lib" "$GPU/test-classes"
    cp "$ROOT"/cli/target/daxload-cli-*.jar "$GPU/lib/"
    rm -f "$GPU"/lib/*-tests.jar "$GPU"/lib/*-sources.jar "$GPU"/lib/*-javadoc.jar
    cp "$ROOT"/cli/target/lib/*.jar "$GPU/lib/"
    cp "$console" "$GPU/lib/"
    cp -r "$ROOT"/dmabuf-bridge/target/test-classes/. "$GPU/test-classes/"
    # The bridge's test dependencies that the command line's runtime lacks (JUnit comes in the console jar).
    tr ':' '\n' < "$ROOT/dmabuf-bridge/target/test-classpath.txt" | grep -v -e junit -e opentest4j -e apiguardian | while read -r j; do
        [ -f "$j" ] && [ ! -f "$GPU/lib/$(basename "$j")" ] && cp "$j" "$GPU/lib/" || true
    done
    "$jdk/bin/jlink" --add-modules java.base,java.logging,java.xml,jdk.unsupported,jdk.zipfs \
        --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$GPU/jdk"
    # libjvm.so ships with its symbol table: 5 MiB that nothing at run time reads.
    if command -v strip >/dev/null; then strip --strip-unneeded "$GPU/jdk/lib/server/libjvm.so"; fi
    cp "$0" "$GPU/"
    local size
    size=$(du -sm "$GPU" | cut -f1)
    echo "prepared $GPU: ${size} MiB (jdk $(du -sm "$GPU/jdk" | cut -f1) MiB, jars $(du -sm "$GPU/lib" | cut -f1) MiB)"
    if [ "$size" -ge 64 ]; then
        echo "run-gpu-checks: $GPU is ${size} MiB, over the 64 MiB the device tool carries" >&2
        exit 3
    fi
}

run() {
    [ -x "$GPU/jdk/bin/java" ] || { echo "run-gpu-checks: no $GPU/jdk: run '$0 prepare' on the build machine and carry .work/gpu" >&2; exit 3; }
    local out=${OUT:-$GPU/out}
    mkdir -p "$out"
    local java=("$GPU/jdk/bin/java" --enable-native-access=ALL-UNNAMED -Xmx4g)
    local cp="$GPU/lib/*"
    local status=0
    daxload() { "${java[@]}" ${DAXLOAD_CUDA_BACKEND:+-Ddaxload.cuda.backend=$DAXLOAD_CUDA_BACKEND} -cp "$cp" dev.daxload.cli.Daxload "$@"; }

    { set +e; echo "== machine"; uname -a; nvidia-smi; ls -l /dev/nvidia*; ldconfig -p | grep -E 'libcuda.so|libcudart'; true; } 2>&1 | tee "$out/machine.txt"
    echo "== daxload gpu probe" | tee "$out/probe.txt"
    daxload gpu probe 2>&1 | tee -a "$out/probe.txt" || status=1

    local work
    work=$(mktemp -d)
    mkdir -p "$work/tree/model" "$work/mnt"
    head -c "$(( ${DAXLOAD_GPU_IMAGE_MB:-512} << 20 ))" /dev/urandom > "$work/tree/model/weights.bin"
    echo "hello from the GPU" > "$work/tree/hello.txt"
    daxload pack "$work/tree" -o "$work/image.daxfs" -q
    daxload verify "$work/image.daxfs"

    echo "== holder and two attaching processes" | tee "$out/share.txt"
    local sock=$work/gpu.sock
    daxload gpu load "$work/image.daxfs" --share "$sock" --clients 2 --try-mount "$work/mnt" > "$out/holder.txt" 2>&1 &
    local holder=$!
    for _ in $(seq 1 600); do [ -S "$sock" ] && break; kill -0 "$holder" 2>/dev/null || break; sleep 0.1; done
    daxload gpu attach "$sock" 2>&1 | tee -a "$out/share.txt" || status=1
    daxload gpu attach "$sock" 2>&1 | tee -a "$out/share.txt" || status=1
    wait "$holder" || status=1
    cat "$out/holder.txt"

    echo "== JUnit: CUDA tests"
    local backends=(auto)
    if ldconfig -p | grep -q 'libcudart.so.13' || [ -n "${LD_LIBRARY_PATH:-}" ]; then backends=(javacpp ffm); fi
    for b in "${backends[@]}"; do
        "${java[@]}" -Ddaxload.cuda.backend="$b" -cp "$GPU/test-classes:$cp" org.junit.platform.console.ConsoleLauncher execute \
            --select-package dev.daxload.bridge.cuda --reports-dir "$out/junit-$b" --details=tree 2>&1 | tee "$out/junit-$b.txt" || status=1
    done
    rm -rf "$work"
    echo "run-gpu-checks: status $status (logs in $out)"
    exit "$status"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
