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
#      In one run, logged to $OUT/gpu-checks.txt (or .work/gpu/out):
#        - the machine, driver and CUDA versions, and `daxload gpu probe`;
#        - `daxload gpu bench` of 1, 4 and 16 GB images (DAXLOAD_GPU_SIZES_GB): staged uploads with 1-12
#          workers and the registered upload, from the page cache and from a memfd, each against a plain
#          pinned cuMemcpyHtoD of the same bytes in the same rounds;
#        - `daxload gpu load` of the 4 GB image (DAXLOAD_GPU_SHARE_GB) with two `daxload gpu attach`
#          processes: attach time, device memory before/after, the dma-buf DAXFS mount attempt;
#        - torch_views.py: a MiniLM-shaped model packed, held on the GPU by `daxload gpu load`, attached by a
#          Python process whose PyTorch makes every tensor a CUDA view with the arguments `daxload gpu views`
#          printed, and runs the model (outputs against plain GPU and CPU loads);
#        - the bridge's CUDA tests with JUnit, with each binding available.
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
    # ONNX Runtime (for pack-model --ort-prepack) is a 137 MB jar of native libraries the GPU checks never use.
    rm -f "$GPU"/lib/*-tests.jar "$GPU"/lib/*-sources.jar "$GPU"/lib/*-javadoc.jar "$GPU"/lib/onnxruntime-*.jar
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
    local java=("$GPU/jdk/bin/java" --enable-native-access=ALL-UNNAMED -Xmx8g)
    local cp="$GPU/lib/*"
    local status=0
    daxload() { "${java[@]}" ${DAXLOAD_CUDA_BACKEND:+-Ddaxload.cuda.backend=$DAXLOAD_CUDA_BACKEND} -cp "$cp" dev.daxload.cli.Daxload "$@"; }
    step() { echo; echo "== $* ($(date +%T))"; }
    # Images live on the machine's disk (page cache), not on a tmpfs: DAXLOAD_GPU_WORK overrides.
    local work=${DAXLOAD_GPU_WORK:-$GPU/work}
    rm -rf "$work"; mkdir -p "$work/mnt"
    exec > >(tee "$out/gpu-checks.txt") 2>&1
    # Every step runs and reports, whatever the one before it did: there is one run on the device.
    set +e +o pipefail

    step machine
    uname -a; nproc; free -g; nvidia-smi || true; ls -l /dev/nvidia* 2>&1 | head; ldconfig -p | grep -E 'libcuda.so|libcudart' || true
    findmnt -T "$work" || df -h "$work"
    echo "daxfs in this kernel: $(grep -c daxfs /proc/filesystems || true); modules dir: $(ls -d /lib/modules/"$(uname -r)" 2>&1)"
    python3 -c 'import torch, transformers, safetensors; print("python torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "safetensors", safetensors.__version__)' 2>&1 || true

    step daxload gpu probe
    daxload gpu probe || status=1

    # DAXLOAD_GPU_STEPS picks steps (bench, share, views, junit; default all of them).
    local steps=" ${DAXLOAD_GPU_STEPS:-bench share views junit} "
    # 2. Upload bandwidth against a plain pinned cuMemcpyHtoD, from the page cache and from a memfd.
    [[ $steps == *" bench "* || $steps == *" share "* ]] &&
    for gb in ${DAXLOAD_GPU_SIZES_GB:-1 4 16}; do
        step "upload bench: $gb GB image"
        mkdir -p /dev/shm/daxload-tree && head -c 64M /dev/urandom > /dev/shm/daxload-block
        for _ in $(seq 1 $((gb * 16))); do cat /dev/shm/daxload-block; done > /dev/shm/daxload-tree/weights.bin
        daxload pack /dev/shm/daxload-tree -o "$work/image-${gb}g.daxfs" -q || status=1
        rm -rf /dev/shm/daxload-tree /dev/shm/daxload-block
        [[ $steps == *" bench "* ]] && { timeout 300 "${java[@]}" -cp "$cp" dev.daxload.cli.Daxload gpu bench "$work/image-${gb}g.daxfs" \
            --rounds 3 ${DAXLOAD_GPU_BENCH_ARGS:---fill read,map --chunk 4M,8M --threads 8,16} || status=1; }
        [ "$gb" = "${DAXLOAD_GPU_SHARE_GB:-4}" ] || rm -f "$work/image-${gb}g.daxfs"
    done

    # 3. One device copy, two more processes attach it by fd.
    local share=$work/image-${DAXLOAD_GPU_SHARE_GB:-4}g.daxfs
    if [[ $steps == *" share "* ]] && [ -f "$share" ]; then
        step "holder and two attaching processes ($(du -h "$share" | cut -f1) image)"
        local sock=$work/gpu.sock
        # Served until killed: the holder's copy stays while the clients measure device memory.
        "${java[@]}" -cp "$cp" dev.daxload.cli.Daxload gpu load "$share" --share "$sock" --try-mount "$work/mnt" > "$out/holder.txt" 2>&1 &
        local holder=$!
        for _ in $(seq 1 600); do [ -S "$sock" ] && break; kill -0 "$holder" 2>/dev/null || break; sleep 0.1; done
        nvidia-smi --query-gpu=memory.used,memory.total --format=csv || true
        daxload gpu attach "$sock" --repeat 3 || status=1
        nvidia-smi --query-compute-apps=pid,used_memory --format=csv || true
        DAXLOAD_CUDA_BACKEND=ffm daxload gpu attach "$sock" --repeat 3 || status=1
        kill -0 "$holder" 2>/dev/null || status=1
        kill "$holder"; wait "$holder"
        cat "$out/holder.txt"
        rm -f "$share"
    fi

    # 4. PyTorch CUDA views of every tensor of a packed model, served by a holder to a Python process.
    [[ $steps == *" views "* ]] && step "PyTorch CUDA views over the holder's device memory"
    if [[ $steps != *" views "* ]]; then
        :
    elif timeout 120 python3 "$ROOT/dmabuf-bridge/gpu/torch_views.py" make "$work/model"; then
        daxload pack-model --name minilm "$work/model/model.safetensors" --name quant "$ROOT/packager/src/test/fixtures/block-types.gguf" \
            -o "$work/model.daxfs" || status=1
        daxload gpu views "$work/model.daxfs" minilm > "$work/views.jsonl" || status=1
        echo "refused dtypes, named:"; daxload gpu views "$work/model.daxfs" quant | grep -m 3 refused || true
        local msock=$work/model.sock
        "${java[@]}" -cp "$cp" dev.daxload.cli.Daxload gpu load "$work/model.daxfs" --share "$msock" --no-reference > "$out/model-holder.txt" 2>&1 &
        local mholder=$!
        for _ in $(seq 1 600); do [ -S "$msock" ] && break; kill -0 "$mholder" 2>/dev/null || break; sleep 0.1; done
        timeout 300 python3 "$ROOT/dmabuf-bridge/gpu/torch_views.py" check --socket "$msock" --views "$work/views.jsonl" \
            --image "$work/model.daxfs" --source "$work/model/model.safetensors" || status=1
        kill -0 "$mholder" 2>/dev/null || status=1
        kill "$mholder"; wait "$mholder"
        cat "$out/model-holder.txt"
    else
        echo "no PyTorch with transformers here: the views check did not run"; status=1
    fi

    # 5 and the rest: the bridge's CUDA tests with each binding there is.
    [[ $steps == *" junit "* ]] && step "JUnit: CUDA tests"
    local backends=(ffm)
    local cudart
    cudart=$(ldconfig -p | grep -o '/.*libcudart.so.13$' | head -1)
    [ -n "$cudart" ] || cudart=$(find /usr/local/cuda*/ /opt /usr/lib -name 'libcudart.so.13' 2>/dev/null | head -1)
    if [ -n "$cudart" ]; then backends=(javacpp ffm); export LD_LIBRARY_PATH=$(dirname "$cudart")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
    [[ $steps == *" junit "* ]] || backends=()
    for b in "${backends[@]}"; do
        timeout 300 "${java[@]}" -Ddaxload.cuda.backend="$b" -cp "$GPU/test-classes:$cp" org.junit.platform.console.ConsoleLauncher execute \
            --select-package dev.daxload.bridge.cuda --reports-dir "$out/junit-$b" --details=tree > "$out/junit-$b.txt" 2>&1 || status=1
        tail -40 "$out/junit-$b.txt"
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
