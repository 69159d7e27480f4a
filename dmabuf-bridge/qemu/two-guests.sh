#!/usr/bin/env bash
# One physical copy across kernels (the multikernel / CXL pooling case, simulated): two QEMU guests
# are given the same host memory (a memory-backend-file with share=on on /dev/shm, shown to each guest
# as the BAR of an ivshmem-plain PCI device). The host writes the packed all-MiniLM-L6-v2 image into
# that memory once; each guest loads the daxfs module, mounts the image straight from the BAR
# (`mount -t daxfs -o phys=BAR,size=...`) and serves the model from the mount with the sample
# embedding server (`EmbeddingServer --image DIR`: every weight a view of the shared memory, through
# /dev/mem). While both serve, the host measures the backing file and each QEMU process (RSS and PSS,
# whole process and the shared mapping) and checks that both guests' answers are identical.
#
# Usage: dmabuf-bridge/qemu/two-guests.sh
# Environment: as run-tests.sh (DAXLOAD_QEMU_WORK, JAVA_HOME_25, DAXLOAD_DAXFS_SRC, DAXLOAD_QEMU_NO_BUILD),
#              DAXLOAD_TWO_GUESTS_TIMEOUT (seconds, default 1500).
# Output: the measurements on stdout and in $WORK/two-guests/report.txt; guest logs beside it.
# Exit status: 0 when the host held the image once while both guests served identical embeddings from
# it, 1 otherwise (each broken check says which), 3 on set-up errors. .ci/run runs it.
# "Once": the shared file holds the image (its allocated size covers the image and no more than the
# shared memory), each QEMU maps pages of it (the guest reads the image there) and holds no private page
# of it (no copy-on-write copy), and each guest's server maps its weights from /dev/mem at the BAR (not
# a copy in guest RAM).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=$(dirname "$HERE")
ROOT=$(dirname "$MODULE")
WORK=${DAXLOAD_QEMU_WORK:-$ROOT/.work/qemu}
TIMEOUT=${DAXLOAD_TWO_GUESTS_TIMEOUT:-1500}
SHM_MB=128      # the shared memory: the image (87 MiB) rounded up to a power of two (a PCI BAR)
say() { printf '[two-guests] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 3; }

# Kernel, module, initramfs, classes and the packed image: made by the harness, not booted there.
DAXLOAD_QEMU_SETUP_ONLY=1 bash "$HERE/run-tests.sh" || die "the QEMU harness could not set up (see above)"
WORK=$(cd "$WORK" && pwd)
# shellcheck disable=SC1091
. "$WORK/setup.env"
[ "$(stat -c %s "$IMG")" -le $(( SHM_MB << 20 )) ] || die "$IMG does not fit in ${SHM_MB} MiB"

# The guests ask their servers with the host's curl (they run the host's root over 9p).
command -v curl >/dev/null || die "no curl on this machine: the guests use it to ask their servers (apt-get install curl)"

DIR=$WORK/two-guests
rm -rf "$DIR"
mkdir -p "$DIR"
SHM=/dev/shm/daxload-two-guests-$$.mem
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    rm -f "$SHM"
}
PIDS=()
trap cleanup EXIT
# The host's one copy: the image at offset 0 of the shared memory.
cp "$IMG" "$SHM"
truncate -s "${SHM_MB}M" "$SHM"

java_opts=(--enable-native-access=ALL-UNNAMED -Xmx512m -XX:TieredStopAtLevel=1 -Djava.io.tmpdir=/tmp
    -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp -Dai.djl.offline=true -DDJL_CACHE_DIR="$DJL_CACHE"
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
# The job of guest N: mount the image from the BAR, serve it, answer one request, wait for the host.
job() {
    local out=$1 n=$2
    cat <<EOF
#!/bin/bash
set -u
exec >> $(printf %q "$out/guest.log") 2>&1
fail() { echo "[guest $n] \$*"; echo 1 > $(printf %q "$out/status"); exit 0; }
cd /tmp
/bin/busybox ip link set lo up || fail "no loopback"   # the server answers on 127.0.0.1; nothing else is up
/bin/busybox insmod $(printf %q "$DAXFS_KO") || fail "insmod daxfs.ko failed"
bar=
for d in /sys/bus/pci/devices/*; do
    if [ "\$(cat \$d/vendor)" = 0x1af4 ] && [ "\$(cat \$d/device)" = 0x1110 ]; then
        bar=\$(sed -n 3p \$d/resource | awk '{print \$1}')
    fi
done
[ -n "\$bar" ] || fail "no ivshmem device"
echo "[guest $n] shared memory (ivshmem BAR2) at \$bar"
mkdir -p /tmp/mnt
# The kernel's own mount of the shared memory: \`daxload mount IMG\` would first read the image file
# (over 9p, into this guest's page cache: a second copy in guest RAM); the server checks the mounted
# image before it serves it.
/bin/busybox mount -t daxfs -o ro,phys=\$bar,size=$(( SHM_MB << 20 )) none /tmp/mnt || fail "mount -t daxfs failed"
grep ' /tmp/mnt ' /proc/self/mountinfo
$(printf '%q ' "$JDK/bin/java" "${java_opts[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=info -cp "$SCP" \
    dev.daxload.samples.server.EmbeddingServer --image /tmp/mnt --model minilm --port 8080) &
server=\$!
for i in \$(seq 1 900); do
    curl -sf -o $(printf %q "$out/embedding.json") -H 'Content-Type: application/json' \
        -d '{"input": "Every process on the host shares one physical copy."}' http://127.0.0.1:8080/embed && break
    kill -0 \$server 2>/dev/null || fail "the server died"
    sleep 1
done
[ -s $(printf %q "$out/embedding.json") ] || fail "no answer from the server"
grep -E 'RssAnon|RssFile|RssShmem' /proc/\$server/status
grep -E '^(MemTotal|MemFree|Cached):' /proc/meminfo | tr -s ' ' | tr '\n' ' '; echo
echo "[guest $n] serving; mapping of the image:"
grep -i '/dev/mem' /proc/\$server/maps | head -3
# The host checks this line: the weights are a mapping of /dev/mem at the BAR, not a copy.
off=\$(printf '%08x' \$((bar)))
grep -qi " \$off .*/dev/mem" /proc/\$server/maps && echo "[guest $n] weights mapped from /dev/mem at \$bar" 
touch $(printf %q "$out/ready")
while [ ! -f $(printf %q "$DIR/done") ]; do sleep 1; done
kill \$server; wait \$server
/bin/umount /tmp/mnt || fail "umount failed"
echo 0 > $(printf %q "$out/status")
EOF
}

boot() {
    local n=$1 out=$DIR/guest$1
    mkdir -p "$out"
    job "$out" "$n" > "$out/job.sh"
    chmod +x "$out/job.sh"
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -smp 1 -m 1536 \
        -display none -monitor none -serial "file:$out/console.log" -no-reboot -nic none \
        -kernel "$VMLINUZ" -initrd "$INITRD" \
        -append "console=ttyS0 panic=-1 quiet loglevel=4 daxload.job=$out/job.sh daxload.out=$out daxload.repo=$ROOT" \
        -object "memory-backend-file,id=shared,size=${SHM_MB}M,mem-path=$SHM,share=on" \
        -device ivshmem-plain,memdev=shared \
        -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
        -virtfs local,path="$out",mount_tag=out,security_model=passthrough,multidevs=remap \
        < /dev/null > "$out/qemu.log" 2>&1 &
    PIDS+=($!)
}

# kB of a field summed over the mappings of the shared file in /proc/PID/smaps.
shared_kb() {
    awk -v f="$SHM" -v k="$2:" '/^[0-9a-f]+-[0-9a-f]+ / { on = index($0, f) > 0 } on && $1 == k { s += $2 } END { print s + 0 }' "/proc/$1/smaps"
}
rollup_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
qemu_pid() { pgrep -P "$1" -f qemu-system-x86_64 | head -1; }   # timeout's child

start=$(date +%s)
say "booting two guests on one ${SHM_MB} MiB shared memory ($SHM); logs in $DIR"
boot 1
boot 2
while [ ! -f "$DIR/guest1/ready" ] || [ ! -f "$DIR/guest2/ready" ]; do
    for n in 1 2; do
        [ -f "$DIR/guest$n/status" ] && { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$DIR/guest$n/guest.log" | tail -30 >&2; die "guest $n stopped before serving"; }
    done
    kill -0 "${PIDS[0]}" 2>/dev/null && kill -0 "${PIDS[1]}" 2>/dev/null || die "a guest exited before serving (see $DIR/guest*/console.log)"
    [ $(( $(date +%s) - start )) -lt "$TIMEOUT" ] || die "timed out after ${TIMEOUT}s"
    sleep 5
done
say "both guests serve the model after $(( $(date +%s) - start ))s"

{
    echo "two guests, one image: $IMG ($(( $(stat -c %s "$IMG") >> 10 )) kB) in $SHM (${SHM_MB} MiB, share=on)"
    echo "host: the shared file holds $(du -k "$SHM" | cut -f1) kB (tmpfs pages: the one copy); Shmem in /proc/meminfo: $(awk '$1=="Shmem:"{print $2}' /proc/meminfo) kB"
    printf '%-8s %8s %12s %12s %14s %14s %16s\n' guest qemu-pid "RSS kB" "PSS kB" "shared RSS kB" "shared PSS kB" "shared private kB"
    for n in 1 2; do
        q=$(qemu_pid "${PIDS[$((n - 1))]}")
        printf '%-8s %8s %12s %12s %14s %14s %16s\n' "$n" "$q" "$(rollup_kb "$q" Rss)" "$(rollup_kb "$q" Pss)" \
            "$(shared_kb "$q" Rss)" "$(shared_kb "$q" Pss)" "$(( $(shared_kb "$q" Private_Clean) + $(shared_kb "$q" Private_Dirty) ))"
    done
    for n in 1 2; do
        echo "guest $n: $(grep -E '^\[guest|phys=|/dev/mem|^Rss|^MemTotal' "$DIR/guest$n/guest.log" | tr -s ' \t' ' ' | tr '\n' ' ')"
    done
    if cmp -s "$DIR/guest1/embedding.json" "$DIR/guest2/embedding.json"; then
        echo "embeddings: identical in both guests ($(head -c 80 "$DIR/guest1/embedding.json")...)"
    else
        echo "embeddings: DIFFER between the guests"
    fi
} | tee "$DIR/report.txt"

# The checks, while both still serve.
ok=1
fail() { say "FAILED: $*"; ok=0; }
img_kb=$(( $(stat -c %s "$IMG") >> 10 ))
shm_kb=$(du -k "$SHM" | cut -f1)
[ "$shm_kb" -ge "$img_kb" ] && [ "$shm_kb" -le $(( SHM_MB << 10 )) ] \
    || fail "the shared file holds $shm_kb kB for an image of $img_kb kB"
for n in 1 2; do
    q=$(qemu_pid "${PIDS[$((n - 1))]}")
    [ "$(shared_kb "$q" Rss)" -gt 0 ] || fail "QEMU of guest $n maps no page of the shared file: its guest did not read the image there"
    priv=$(( $(shared_kb "$q" Private_Clean) + $(shared_kb "$q" Private_Dirty) ))
    [ "$priv" = 0 ] || fail "QEMU of guest $n holds $priv kB of the shared file privately (a second copy)"
    grep -q "^\[guest $n\] weights mapped from /dev/mem at " "$DIR/guest$n/guest.log" \
        || fail "guest $n's server does not map its weights from /dev/mem at the BAR"
done
cmp -s "$DIR/guest1/embedding.json" "$DIR/guest2/embedding.json" || fail "the guests' embeddings differ"

touch "$DIR/done"
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()
for n in 1 2; do
    [ "$(cat "$DIR/guest$n/status" 2>/dev/null)" = 0 ] || { say "guest $n did not finish cleanly (see $DIR/guest$n/guest.log)"; ok=0; }
done
say "done in $(( $(date +%s) - start ))s"
[ "$ok" = 1 ]
