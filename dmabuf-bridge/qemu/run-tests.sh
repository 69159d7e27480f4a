#!/usr/bin/env bash
# Runs the dmabuf-bridge tests inside a real Debian 6.12 kernel under QEMU (TCG, no KVM), where
# /dev/dma_heap/system and /dev/udmabuf exist, so the tests that skip on the build machine run.
#
# The guest mounts the host's root read-only over 9p and chroots into it, so it runs the host's
# Temurin 25 on the classes this script has just built; results come back through a second,
# writable 9p export. Exit status: the tests' (0 = all passed), 124 on timeout, 3 on set-up errors.
#
# Usage: dmabuf-bridge/qemu/run-tests.sh [extra JUnit console options, e.g. --select-class X]
# Environment: DAXLOAD_QEMU_WORK (work dir, default <repo>/.work/qemu),
#              DAXLOAD_QEMU_TIMEOUT (seconds, default 1800), DAXLOAD_QEMU_NO_BUILD=1 (reuse classes),
#              JAVA_HOME_25 (default /usr/lib/jvm/temurin-25-jdk-amd64),
#              DAXLOAD_DAXFS_SRC (the daxfs module's source, default <repo>/../shared/daxfs-module),
#              DAXLOAD_QEMU_NO_DAXFS=1 (boot without the module),
#              DAXLOAD_QEMU_ONLY=bridge|models|fidelity (only the bridge's tests, only the tests that
#              mount models and trees, or only MountedFidelityTest; default all), DAXLOAD_QEMU_KERNEL_PACKAGE (the apt name pattern of the kernel,
#              default ^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$),
#              DAXLOAD_QEMU_TREES / DAXLOAD_QEMU_MODELS (more directory trees / model sources, separated by
#              ':', that MountedFidelityTest packs, mounts three ways and compares; paths the guest sees,
#              so not under the host's /tmp or /run).
#
# Model loading from a mount (samples' MountedModelTest, needs the module): all-MiniLM-L6-v2 is packed
# on the host, placed by QEMU's -device loader at PHYS_ADDR in guest memory set aside with memmap=, and
# mounted in the guest from the system heap, a udmabuf and that physical range; DJL's engines run from
# the host's DJL cache (~/.djl.ai, filled by the samples' tests on the host: the guest has no network).
#
# The guest's console goes to $WORK/console.log and the tests' output to $WORK/out/tests.log, never
# to the caller's terminal: this prints the tests' summary, and on failure the tail of both logs.
#
# The DAXFS module (../shared/daxfs-module, upstream + its 6.12 patch) is built on the host against
# Debian's headers for the same kernel (linux-headers-KVER, its -common and linux-kbuild, unpacked
# with dpkg -x, gcc-12), loaded in the guest before the tests, and unloaded for a second pass of the
# tests that need a kernel without it (MountApiTest's ENODEV messages, and daxload mount's message when
# the heap and udmabuf are there but daxfs is not).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=$(dirname "$HERE")
ROOT=$(dirname "$MODULE")
WORK=${DAXLOAD_QEMU_WORK:-$ROOT/.work/qemu}
TIMEOUT=${DAXLOAD_QEMU_TIMEOUT:-1800}
JDK=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
# The 9p modules the guest needs before it can mount the host, in load order (Debian builds them
# as modules; udmabuf and the system DMA heap are built in: CONFIG_UDMABUF=y,
# CONFIG_DMABUF_HEAPS_SYSTEM=y, checked below against the kernel's config).
NINEP_MODULES=(netfs 9pnet 9pnet_virtio 9p)
ONLY=${DAXLOAD_QEMU_ONLY:-}
# "fidelity" is "models" with one of its two classes.
SELECT_MODELS=(MountedModelTest MountedFidelityTest)
if [ "$ONLY" = fidelity ]; then ONLY=models; SELECT_MODELS=(MountedFidelityTest); fi
case "$ONLY" in ''|bridge|models) ;; *) die "DAXLOAD_QEMU_ONLY=$ONLY: expected bridge, models or fidelity" ;; esac
KERNEL_PACKAGE=${DAXLOAD_QEMU_KERNEL_PACKAGE:-'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$'}
# Guest RAM set aside (memmap=) for the image that the model test mounts by phys=, and where QEMU puts it;
# its upper half is where MountedFidelityTest writes (through /dev/mem) the images it mounts by phys=.
PHYS_ADDR=0x90000000
PHYS_SIZE_MB=256
PHYS_SCRATCH=0x98000000
PHYS_SCRATCH_SIZE=$(( 128 << 20 ))
GUEST_MB=3072

say() { printf '[qemu-tests] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 3; }
# Logs as plain text: no escape sequences or carriage returns reach the caller (Maven 3.8 writes
# colour resets even with -B; the guest's console writes what a terminal would interpret).
plain() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[()][A-Za-z0-9]//g' -e 's/\r//g' -e 's/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]//g' "$@"; }

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# ---- 1. tools -------------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod && file -L /bin/busybox 2>/dev/null | grep -q static \
    || need_pkgs+=(busybox-static)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
command -v file >/dev/null || need_pkgs+=(file)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    say "installing ${need_pkgs[*]}"
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# busybox-static replaces the dynamic busybox at /bin/busybox; check that what we copy is static.
file -L /bin/busybox | grep -q 'statically linked' || die "/bin/busybox is not static (install busybox-static)"
[ -x "$JDK/bin/java" ] || die "no JDK 25 at $JDK (set JAVA_HOME_25)"

# ---- 2. kernel ------------------------------------------------------------------------------
KDIR=$WORK/kernel
if ! ls "$KDIR"/boot/vmlinuz-* >/dev/null 2>&1; then
    pkg=$(apt-cache search --names-only "$KERNEL_PACKAGE" | awk '{print $1}' | sort -V | tail -1)
    if [ -z "$pkg" ]; then
        apt-get update -qq
        pkg=$(apt-cache search --names-only "$KERNEL_PACKAGE" | awk '{print $1}' | sort -V | tail -1)
    fi
    [ -n "$pkg" ] || die "no package matching $KERNEL_PACKAGE in the apt sources (bookworm-security needed)"
    say "downloading $pkg"
    rm -rf "$WORK/dl" "$KDIR"
    mkdir -p "$WORK/dl"
    (cd "$WORK/dl" && apt-get download -qq "$pkg" 2>/dev/null)
    dpkg -x "$WORK"/dl/*.deb "$KDIR"
    rm -rf "$WORK/dl"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KVER=${VMLINUZ##*/vmlinuz-}
CONFIG=$KDIR/boot/config-$KVER
for opt in CONFIG_UDMABUF CONFIG_DMABUF_HEAPS_SYSTEM; do
    grep -q "^$opt=y" "$CONFIG" || die "$KVER lacks $opt=y: the harness expects it built in"
done

# ---- 2b. the daxfs module and mkdaxfs, built for that kernel ----------------------------------
DAXFS_SRC=${DAXLOAD_DAXFS_SRC:-$ROOT/../shared/daxfs-module}
DAXFS_KO=
if [ "${DAXLOAD_QEMU_NO_DAXFS:-}" = 1 ]; then
    say "DAXLOAD_QEMU_NO_DAXFS=1: booting without the daxfs module"
elif [ ! -f "$DAXFS_SRC/daxfs/super.c" ]; then
    say "no daxfs module source at $DAXFS_SRC: the mount tests will skip"
else
    DAXFS_BUILD=$WORK/daxfs-$KVER
    DAXFS_KO=$DAXFS_BUILD/daxfs/daxfs.ko
    stamp=$(cd "$DAXFS_SRC" && find . -type f -newer "$DAXFS_KO" 2>/dev/null | head -1 || true)
    if [ ! -f "$DAXFS_KO" ] || [ -n "$stamp" ]; then
        HDIR=$WORK/headers-$KVER
        if [ ! -d "$HDIR/usr/src/linux-headers-$KVER" ]; then
            kbase=${KVER%-amd64}     # 6.12.118+deb12
            say "downloading the headers for $KVER"
            command -v gcc-12 >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-12 make >/dev/null; }
            command -v make >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null; }
            rm -rf "$WORK/dl" "$HDIR"
            mkdir -p "$WORK/dl" "$HDIR"
            (cd "$WORK/dl" && apt-get download -qq "linux-headers-$KVER" "linux-headers-$kbase-common" "linux-kbuild-$kbase" 2>/dev/null) \
                || die "cannot download linux-headers-$KVER, linux-headers-$kbase-common, linux-kbuild-$kbase"
            for deb in "$WORK"/dl/*.deb; do dpkg -x "$deb" "$HDIR"; done
            rm -rf "$WORK/dl"
            # Debian's headers include their -common half by its installed path: point it at ours.
            sed -i "s#/usr/src/#$HDIR/usr/src/#g" "$HDIR/usr/src/linux-headers-$KVER/Makefile"
        fi
        say "building daxfs.ko and mkdaxfs for $KVER"
        rm -rf "$DAXFS_BUILD"
        cp -r "$DAXFS_SRC" "$DAXFS_BUILD"
        chmod -R u+w "$DAXFS_BUILD"
        (cd "$DAXFS_BUILD" && patch -p1 -s < daxfs-6.12.patch) || die "daxfs-6.12.patch does not apply"
        # No BTF for the module (CONFIG_DEBUG_INFO_BTF_MODULES off): it needs pahole, and only debuggers read it.
        make -s -C "$HDIR/usr/src/linux-headers-$KVER" M="$DAXFS_BUILD/daxfs" CC=gcc-12 \
            CONFIG_DEBUG_INFO_BTF_MODULES= modules > "$WORK/daxfs-build.log" 2>&1 \
            || { tail -20 "$WORK/daxfs-build.log" >&2; die "daxfs.ko did not build (log: $WORK/daxfs-build.log)"; }
        make -s -C "$DAXFS_BUILD/tools" CC=gcc-12 >> "$WORK/daxfs-build.log" 2>&1 || say "mkdaxfs did not build (log: $WORK/daxfs-build.log)"
    fi
    [ -f "$DAXFS_KO" ] || die "no $DAXFS_KO"
fi

# ---- 3. initramfs: static busybox, the 9p modules (decompressed: busybox insmod reads no xz) --
IRD=$WORK/initramfs
INITRD=$WORK/initramfs-$KVER.cpio.gz
if [ ! -f "$INITRD" ] || [ "$HERE/guest-init.sh" -nt "$INITRD" ]; then
    say "building initramfs for $KVER"
    rm -rf "$IRD"
    mkdir -p "$IRD"/{bin,proc,sys,dev,newroot,mods}
    cp /bin/busybox "$IRD/bin/busybox"
    for m in "${NINEP_MODULES[@]}"; do
        ko=$(find "$KDIR/lib/modules/$KVER" -name "$m.ko.xz" -o -name "$m.ko" | head -1)
        [ -n "$ko" ] || die "module $m not found in $KVER"
        case "$ko" in
            *.xz) xz -dc "$ko" > "$IRD/mods/$m.ko" ;;
            *) cp "$ko" "$IRD/mods/$m.ko" ;;
        esac
    done
    printf '%s\n' "${NINEP_MODULES[@]}" > "$IRD/mods/order"
    cp "$HERE/guest-init.sh" "$IRD/init"
    chmod +x "$IRD/init"
    (cd "$IRD" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD"
fi

# ---- 4. build the module and its test classes on the host -----------------------------------
# The model test needs the module, so it runs only when the module is built.
MODELS_TEST=
if [ -n "$DAXFS_KO" ] && [ "$ONLY" != bridge ] && [ $# -eq 0 ]; then
    # MountedModelTest loads all-MiniLM-L6-v2 from mounts; MountedFidelityTest mounts packed trees and
    # model fixtures and compares them file by file and tensor by tensor.
    MODELS_TEST=dev.daxload.samples.MountedModelTest
fi
[ "$ONLY" != models ] || [ -n "$MODELS_TEST" ] || die "DAXLOAD_QEMU_ONLY=models needs the daxfs module (and no JUnit options)"
if [ "${DAXLOAD_QEMU_NO_BUILD:-}" != 1 ]; then
    if [ -n "$MODELS_TEST" ]; then
        say "building loader, dmabuf-bridge and samples test classes"
        (cd "$ROOT" && mvn -q -B -ntp -pl loader,dmabuf-bridge,samples -am test-compile dependency:build-classpath \
            -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt) > "$WORK/build.log" 2>&1 \
            || { plain "$WORK/build.log" | tail -30 >&2; die "the test classes did not build (log: $WORK/build.log)"; }
    else
        say "building loader + dmabuf-bridge test classes"
        (cd "$ROOT" && mvn -q -B -ntp -pl loader,dmabuf-bridge test-compile dependency:build-classpath \
            -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt) > "$WORK/build.log" 2>&1 \
            || { plain "$WORK/build.log" | tail -30 >&2; die "the test classes did not build (log: $WORK/build.log)"; }
    fi
fi
CPFILE=$MODULE/target/test-classpath.txt
[ -f "$CPFILE" ] || die "no $CPFILE: run without DAXLOAD_QEMU_NO_BUILD"
JUNIT_VERSION=$(sed -n 's:.*<junit.version>5\.\([0-9.]*\)</junit.version>.*:1.\1:p' "$ROOT/pom.xml")
CONSOLE=$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$JUNIT_VERSION/junit-platform-console-standalone-$JUNIT_VERSION.jar
if [ ! -f "$CONSOLE" ]; then
    mvn -q -B -ntp dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:"$JUNIT_VERSION" -Dtransitive=false \
        > "$WORK/build.log" 2>&1 || { plain "$WORK/build.log" | tail -30 >&2; die "cannot fetch junit-platform-console-standalone $JUNIT_VERSION"; }
fi
CP=$MODULE/target/test-classes:$MODULE/target/classes:$(cat "$CPFILE"):$CONSOLE

# ---- 4b. the model the guest mounts: packed here, placed in guest memory by QEMU ----------------
QEMU_IMAGE=()
MODELS_PROPS=()
if [ -n "$MODELS_TEST" ]; then
    SAMPLES=$ROOT/samples
    [ -f "$SAMPLES/target/test-classpath.txt" ] || die "no $SAMPLES/target/test-classpath.txt: run without DAXLOAD_QEMU_NO_BUILD"
    SCP=$SAMPLES/target/test-classes:$SAMPLES/target/classes:$(cat "$SAMPLES/target/test-classpath.txt"):$CONSOLE
    MINILM=$SAMPLES/target/models/all-minilm-l6-v2
    IMG=$WORK/minilm.daxfs
    if [ ! -f "$IMG" ] || [ "$MINILM/all-minilm-l6-v2.onnx" -nt "$IMG" ]; then
        say "packing all-MiniLM-L6-v2 into $IMG"
        "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -cp "$SCP" dev.daxload.cli.Daxload pack-model --name minilm \
            "$MINILM/all-minilm-l6-v2.onnx" --file tokenizer.json="$MINILM/all-minilm-l6-v2-tokenizer.json" -o "$IMG" 2>&1 | plain >&2 \
            || die "cannot pack $MINILM into $IMG"
    fi
    [ "$(stat -c %s "$IMG")" -le $(( PHYS_SCRATCH - PHYS_ADDR )) ] || die "$IMG is larger than the $(( (PHYS_SCRATCH - PHYS_ADDR) >> 20 )) MiB set aside for it"
    # DJL's engines load their native libraries from its cache; the guest cannot download or unpack them.
    DJL_CACHE=${DJL_CACHE_DIR:-$HOME/.djl.ai}
    ls "$DJL_CACHE"/pytorch/*cpu*/libtorch_cpu.so >/dev/null 2>&1 \
        || say "warning: no CPU libtorch in $DJL_CACHE/pytorch (run the samples' tests on this host once): the PyTorch part will fail"
    QEMU_IMAGE=(-device "loader,file=$IMG,addr=$PHYS_ADDR,force-raw=on")
    MODELS_PROPS=(-Dai.djl.offline=true -DPYTORCH_FLAVOR=cpu -DDJL_CACHE_DIR="$DJL_CACHE"
        -Ddaxload.testModels="$SAMPLES/target/models" -Ddaxload.mountImage="$IMG" -Ddaxload.physImage="$PHYS_ADDR"
        -Ddaxload.physScratch="$PHYS_SCRATCH,$PHYS_SCRATCH_SIZE" -Ddaxload.testdata="$ROOT/testdata"
        -Ddaxload.fidelityTrees="${DAXLOAD_QEMU_TREES:-}" -Ddaxload.fidelityModels="${DAXLOAD_QEMU_MODELS:-}")
fi

# Other scripts (two-guests.sh) boot guests of their own from what was made above.
if [ "${DAXLOAD_QEMU_SETUP_ONLY:-}" = 1 ]; then
    [ -n "$MODELS_TEST" ] || die "DAXLOAD_QEMU_SETUP_ONLY=1 needs the daxfs module"
    {
        printf 'VMLINUZ=%q\nINITRD=%q\nKVER=%q\nDAXFS_KO=%q\nIMG=%q\nSCP=%q\nDJL_CACHE=%q\nJDK=%q\nROOT=%q\n' \
            "$VMLINUZ" "$INITRD" "$KVER" "$DAXFS_KO" "$IMG" "$SCP" "$DJL_CACHE" "$JDK" "$ROOT"
    } > "$WORK/setup.env"
    say "set up: $WORK/setup.env"
    exit 0
fi

# ---- 5. the job the guest runs (in the chroot, as root) ------------------------------------
OUT=$WORK/out
rm -rf "$OUT"
mkdir -p "$OUT"
TESTLOG=$OUT/tests.log
{
    echo '#!/bin/bash'
    echo 'set -u'
    echo 'cd /tmp'
    echo "exec >> $(printf %q "$TESTLOG") 2>&1"
    if [ -n "$DAXFS_KO" ]; then
        echo "/bin/busybox insmod $(printf %q "$DAXFS_KO") || { echo '[guest] insmod daxfs.ko failed'; echo 3 > $(printf %q "$OUT/status"); exit 0; }"
        echo 'echo "[guest] daxfs module loaded: $(grep -w daxfs /proc/filesystems | tr -s "\t" " ")"'
    fi
    echo 'echo "[guest] kernel $(uname -r); $(ls /dev/dma_heap/ 2>/dev/null | sed "s:^:/dev/dma_heap/:" | tr "\n" " ")$(ls /dev/udmabuf 2>/dev/null)"'
    launcher() {
        local cp=$1 reports=$2
        shift 2
        printf '%q ' "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -Xmx768m -XX:TieredStopAtLevel=1 \
            -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp -Djava.io.tmpdir=/tmp "$@" \
            -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
            --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests --reports-dir="$reports"
    }
    echo 'rc=0'
    if [ "$ONLY" != models ]; then
        launcher "$CP" "$OUT/reports"
        if [ $# -gt 0 ]; then printf '%q ' "$@"; else printf '%q ' --select-package dev.daxload.bridge; fi
        echo
        echo 'rc=$?'
    fi
    if [ -n "$MODELS_TEST" ]; then
        # Before the module goes: these mount images.
        launcher "$SCP" "$OUT/reports-models" "${MODELS_PROPS[@]}"
        for c in "${SELECT_MODELS[@]}"; do printf '%q ' --select-class "dev.daxload.samples.$c"; done
        echo
        echo 'rc3=$?; [ "$rc" = 0 ] && rc=$rc3'
    fi
    if [ -n "$DAXFS_KO" ] && [ $# -eq 0 ] && [ "$ONLY" != models ]; then
        # The tests that need a kernel without daxfs (what a user without the module is told).
        echo '/bin/busybox rmmod daxfs && echo "[guest] daxfs unloaded for the tests that need it absent"'
        launcher "$CP" "$OUT/reports-without-daxfs"
        printf '%q ' --select-class dev.daxload.bridge.mount.MountApiTest
        echo
        echo 'rc2=$?; [ "$rc" = 0 ] && rc=$rc2'
        if [ -n "$MODELS_TEST" ]; then
            # daxload mount on a kernel that has the system heap and udmabuf but no daxfs: the missing
            # filesystem is said first and alone, whichever memory is asked for (issue 10, item 4).
            launcher "$SCP" "$OUT/reports-cli-without-daxfs"
            printf '%q ' --select-method dev.daxload.cli.MountGpuCliTest#aMissingDeviceOrFilesystemIsExplained
            echo
            echo 'rc4=$?; [ "$rc" = 0 ] && rc=$rc4'
        fi
    fi
    echo 'echo $rc > '"$(printf %q "$OUT/status")"
} > "$OUT/job.sh"
chmod +x "$OUT/job.sh"

# ---- 6. boot ------------------------------------------------------------------------------
# The console goes to a file, never to the terminal (QEMU's stdio would put it in raw mode and
# write the guest's control sequences into CI logs); stdin is closed for the same reason.
CONSOLE_LOG=$WORK/console.log
say "booting $KVER under TCG (timeout ${TIMEOUT}s); console: $CONSOLE_LOG, tests' output: $TESTLOG"
start=$(date +%s)
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp "$(nproc)" -m "$GUEST_MB" \
    -display none -monitor none -serial "file:$CONSOLE_LOG" -no-reboot -nic none \
    -kernel "$VMLINUZ" -initrd "$INITRD" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 memmap=${PHYS_SIZE_MB}M\$$PHYS_ADDR udmabuf.size_limit_mb=$PHYS_SIZE_MB daxload.job=$OUT/job.sh daxload.out=$OUT daxload.repo=$ROOT" \
    "${QEMU_IMAGE[@]}" \
    -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
    -virtfs local,path="$OUT",mount_tag=out,security_model=passthrough,multidevs=remap \
    < /dev/null > "$WORK/qemu.log" 2>&1
qrc=$?
set -e
say "guest ran $(( $(date +%s) - start ))s (qemu exit $qrc)"

summary() {
    [ -f "$TESTLOG" ] || { say "the guest wrote no test output"; return; }
    # The guest's notes, the tests' own measurements, every failed test and each run's counts.
    # (an aborted test is one whose assumption failed: it says what it needs)
    plain "$TESTLOG" | grep -E '^\[(guest|mount)|\[X\]|✘|Assumption failed|^Test run finished|tests (found|successful|skipped|failed|aborted)' >&2 || true
}
failure_tail() {
    say "last lines of the tests' output ($TESTLOG):"
    [ -f "$TESTLOG" ] && plain "$TESTLOG" | tail -n 60 >&2
    say "last lines of the guest console ($CONSOLE_LOG):"
    [ -f "$CONSOLE_LOG" ] && plain "$CONSOLE_LOG" | tail -n 30 >&2
    [ -s "$WORK/qemu.log" ] && { say "QEMU said:"; plain "$WORK/qemu.log" | tail -n 10 >&2; }
    return 0
}
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    summary
    failure_tail
    say "timed out after ${TIMEOUT}s"
    exit 124
fi
if [ ! -f "$OUT/status" ]; then
    summary
    failure_tail
    die "the guest wrote no status (it did not boot, or its job died)"
fi
status=$(cat "$OUT/status")
summary
if [ "$status" != 0 ]; then
    failure_tail
fi
say "tests exit status $status; reports in $OUT/reports*"
exit "$status"
