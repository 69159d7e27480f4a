#!/usr/bin/env bash
# The .deb form of the release archive, where the build machine has dpkg-deb: the same files under
# /opt/daxload, /usr/bin/daxload a symlink to its launcher, the bash completion where bash-completion
# looks. Run by exec-maven-plugin in the package phase after make-runtime.sh.
# Usage: make-deb.sh DIST LAUNCHER_DIR LICENSE OUT_DIR VERSION
set -euo pipefail
dist=$1 launchers=$2 license=$3 out=$4 version=$5
if ! command -v dpkg-deb >/dev/null; then
  echo "[dist] no dpkg-deb on this machine: no .deb (the .tar.gz is made all the same)"
  exit 0
fi
deb_version=${version//-/\~}   # 0.1.0-SNAPSHOT sorts before 0.1.0 as 0.1.0~SNAPSHOT
stage="$out/deb-stage"
rm -rf "$stage"
mkdir -p "$stage/opt" "$stage/usr/bin" "$stage/usr/share/bash-completion/completions" "$stage/DEBIAN"
cp -al "$dist" "$stage/opt/daxload"   # hard links: no second copy of 250 MB on disk
rm -rf "$stage/opt/daxload/bin"
mkdir -p "$stage/opt/daxload/bin"
install -m 0755 "$launchers/daxload" "$stage/opt/daxload/bin/daxload"
install -m 0644 "$license" "$stage/opt/daxload/LICENSE"
ln -s /opt/daxload/bin/daxload "$stage/usr/bin/daxload"
ln -s /opt/daxload/share/bash-completion/completions/daxload "$stage/usr/share/bash-completion/completions/daxload"
mkdir -p "$stage/usr/share/man/man1"
for page in "$dist"/share/man/man1/*.1; do
  [ -e "$page" ] && ln -s "/opt/daxload/share/man/man1/$(basename "$page")" "$stage/usr/share/man/man1/$(basename "$page")"
done
cat > "$stage/DEBIAN/control" <<CONTROL
Package: daxload
Version: $deb_version
Architecture: amd64
Maintainer: daxload <daxload@localhost>
Section: utils
Priority: optional
Installed-Size: $(du -sk "$stage" | cut -f1)
Description: model weights served zero-copy from DAXFS images
 The daxload command line with its own Java runtime (jlink) and AOT cache:
 packs models into DAXFS images, inspects, verifies and mounts them.
CONTROL
deb="$out/daxload_${deb_version}_amd64.deb"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "[dist] $deb ($(du -h "$deb" | cut -f1))"
