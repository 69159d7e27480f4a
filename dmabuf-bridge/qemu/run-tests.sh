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
#              DAXLOAD_QEMU_NO_DAXFS=1 (boot without the module).
#
# The DAXFS module (../shared/daxfs-module, upstream + its 6.12 patch) is built on the host against
# Debian's headers for the same kernel (linux-headers-KVER, its -common and linux-kbuild, unpacked
# with dpkg -x, gcc-12), loaded in the guest before the tests, and unloaded for a second pass of the
# tests that need a kernel without it (MountApiTest's ENODEV messages).
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

say() { printf '[qemu-tests] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 3; }

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
    pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)
    if [ -z "$pkg" ]; then
        apt-get update -qq
        pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)
    fi
    [ -n "$pkg" ] || die "no linux-image-6.12.*+deb12-amd64 in the apt sources (bookworm-security needed)"
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
if [ "${DAXLOAD_QEMU_NO_BUILD:-}" != 1 ]; then
    say "building loader + dmabuf-bridge test classes"
    (cd "$ROOT" && mvn -q -pl loader,dmabuf-bridge test-compile dependency:build-classpath \
        -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt)
fi
CPFILE=$MODULE/target/test-classpath.txt
[ -f "$CPFILE" ] || die "no $CPFILE: run without DAXLOAD_QEMU_NO_BUILD"
JUNIT_VERSION=$(sed -n 's:.*<junit.version>5\.\([0-9.]*\)</junit.version>.*:1.\1:p' "$ROOT/pom.xml")
CONSOLE=$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$JUNIT_VERSION/junit-platform-console-standalone-$JUNIT_VERSION.jar
if [ ! -f "$CONSOLE" ]; then
    mvn -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:"$JUNIT_VERSION" -Dtransitive=false
fi
CP=$MODULE/target/test-classes:$MODULE/target/classes:$(cat "$CPFILE"):$CONSOLE

# ---- 5. the job the guest runs (in the chroot, as root) ------------------------------------
OUT=$WORK/out
rm -rf "$OUT"
mkdir -p "$OUT"
{
    echo '#!/bin/bash'
    echo 'set -u'
    echo 'cd /tmp'
    if [ -n "$DAXFS_KO" ]; then
        echo "/bin/busybox insmod $(printf %q "$DAXFS_KO") || { echo '[guest] insmod daxfs.ko failed'; echo 3 > $(printf %q "$OUT/status"); exit 0; }"
        echo 'echo "[guest] daxfs module loaded: $(grep -w daxfs /proc/filesystems | tr -s "\t" " ")"'
    fi
    echo 'echo "[guest] kernel $(uname -r); $(ls /dev/dma_heap/ 2>/dev/null | sed "s:^:/dev/dma_heap/:" | tr "\n" " ")$(ls /dev/udmabuf 2>/dev/null)"'
    launcher() {
        printf '%q ' "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -Xmx768m -XX:TieredStopAtLevel=1 \
            -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp -Djava.io.tmpdir=/tmp \
            -cp "$CP" org.junit.platform.console.ConsoleLauncher execute \
            --disable-banner --details=tree --fail-if-no-tests --reports-dir="$1"
    }
    launcher "$OUT/reports"
    if [ $# -gt 0 ]; then printf '%q ' "$@"; else printf '%q ' --select-package dev.daxload.bridge; fi
    echo
    echo 'rc=$?'
    if [ -n "$DAXFS_KO" ] && [ $# -eq 0 ]; then
        # The tests that need a kernel without daxfs (what a user without the module is told).
        echo '/bin/busybox rmmod daxfs && echo "[guest] daxfs unloaded for the tests that need it absent"'
        launcher "$OUT/reports-without-daxfs"
        printf '%q ' --select-class dev.daxload.bridge.mount.MountApiTest
        echo
        echo 'rc2=$?; [ "$rc" = 0 ] && rc=$rc2'
    fi
    echo 'echo $rc > '"$(printf %q "$OUT/status")"
} > "$OUT/job.sh"
chmod +x "$OUT/job.sh"

# ---- 6. boot ------------------------------------------------------------------------------
say "booting $KVER under TCG (timeout ${TIMEOUT}s); console log: $WORK/console.log"
start=$(date +%s)
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp "$(nproc)" -m 2G \
    -nographic -no-reboot -nic none \
    -kernel "$VMLINUZ" -initrd "$INITRD" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 daxload.job=$OUT/job.sh daxload.out=$OUT daxload.repo=$ROOT" \
    -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
    -virtfs local,path="$OUT",mount_tag=out,security_model=passthrough,multidevs=remap \
    2>&1 | tee "$WORK/console.log"
qrc=${PIPESTATUS[0]}
set -e
say "guest ran $(( $(date +%s) - start ))s (qemu exit $qrc)"
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    say "timed out after ${TIMEOUT}s"
    exit 124
fi
[ -f "$OUT/status" ] || die "the guest wrote no status (see $WORK/console.log)"
status=$(cat "$OUT/status")
say "tests exit status $status; reports in $OUT/reports"
exit "$status"
