#!/bin/busybox sh
# /init of the harness's initramfs: mount the host root (read-only 9p) and the writable results
# export, chroot into the host root, run the job the host wrote, power off. Whatever happens, the
# machine powers off (panic=-1 and -no-reboot turn a dying init into a QEMU exit too).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for arg in $(cat /proc/cmdline); do
    case "$arg" in
        daxload.job=*) JOB=${arg#daxload.job=} ;;
        daxload.out=*) OUT=${arg#daxload.out=} ;;
        daxload.repo=*) REPO=${arg#daxload.repo=} ;;
    esac
done

while read -r m; do
    insmod "/mods/$m.ko" || echo "[init] insmod $m failed"
done < /mods/order

# cache=loose: the host root does not change during the run, and the JDK's files are read many
# times; without a cache every read is a 9p round trip through the emulator.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 host /newroot || { echo "[init] cannot mount host"; poweroff -f; }
# A second view of the host root before tmpfs covers /tmp and /run (one 9p tag mounts only once).
mkdir -p /hostro
mount -o bind /newroot /hostro
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs -o size=1G tmp /newroot/tmp
mount -t tmpfs tmp /newroot/run
# A checkout under /tmp or /run (a CI clone, say) is hidden by the tmpfs above: put it back from the
# second view, so the classes, jars and the results export are where the job expects them.
if [ -n "${REPO:-}" ] && [ ! -d "/newroot$REPO" ]; then
    mkdir -p "/newroot$REPO"
    mount -o bind "/hostro$REPO" "/newroot$REPO" || { echo "[init] cannot show $REPO"; poweroff -f; }
fi
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 out "/newroot$OUT" || { echo "[init] cannot mount out"; poweroff -f; }

echo "[init] running $JOB"
chroot /newroot /bin/bash "$JOB"
echo "[init] job finished with $?"
sync
umount "/newroot$OUT"
poweroff -f
