#!/usr/bin/env bash
# daxload pull --pack of a ModelPack artifact (one raw safetensors weight layer and a config.json layer, as modctl
# pushes them) from a registry on loopback, against the usual way to the same image: fetch the layer to a file
# (curl, then sync, then sha256sum: the digest check any pull makes) and pack-model it. Rounds alternate the two; both images are fsynced before their rename, and
# the two images are compared byte for byte.
#   cli/bench/pull-pack.sh SIZE_GB [ROUNDS]      e.g. cli/bench/pull-pack.sh 1 3
# Needs docker-registry, curl and python3; uses bin/daxload (built on first use). Leaves nothing behind.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$here/registry/bench/local-registry.sh"
size_gb=${1:?size in GB}
rounds=${2:-3}
mkdir -p "$here/target"
work=$(mktemp -d "${TMPDIR:-$here/target}/pull-pack-bench.XXXXXX")
cleanup() { [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
daxload="$here/bin/daxload"

synthetic_safetensors "$work/model.safetensors" "$size_gb"
printf '{"architectures":["Synthetic"]}\n' > "$work/config.json"

start_registry "$work"
repo=bench/synthetic
upload() {  # monolithic blob upload; prints the digest
  local d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  local loc
  loc=$(curl -fsS -D - -o /dev/null -X POST "http://$host/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case "$loc" in http*) ;; *) loc="http://$host$loc";; esac
  curl -fsS -o /dev/null -H "Content-Type: application/octet-stream" -T "$1" "$loc&digest=$d"  # -T streams the file
  echo "$d"
}
weights=$(upload "$work/model.safetensors")
config=$(upload "$work/config.json")
printf '{"descriptor":{"name":"synthetic"},"config":{"format":"safetensors"},"modelfs":{"type":"layers","diffIds":["%s","%s"]}}' \
  "$weights" "$config" > "$work/mpconfig.json"
mpconfig=$(upload "$work/mpconfig.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.model.manifest.v1+json",
"config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":"%s","size":%d},
"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"%s","size":%d,"annotations":{"org.cncf.model.filepath":"model.safetensors"}},
{"mediaType":"application/vnd.cncf.model.weight.config.v1.raw","digest":"%s","size":%d,"annotations":{"org.cncf.model.filepath":"config.json"}}]}' \
  "$mpconfig" "$(stat -c %s "$work/mpconfig.json")" "$weights" "$(stat -c %s "$work/model.safetensors")" \
  "$config" "$(stat -c %s "$work/config.json")" > "$work/manifest.json"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest.json" \
  "http://$host/v2/$repo/manifests/v1"
bytes=$(stat -c %s "$work/model.safetensors")
rm "$work/model.safetensors"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
echo "round,pull_pack_ms,pull_pack_cpu_ms,fetch_ms,pack_model_ms,pack_model_cpu_ms" > "$work/results.csv"
for r in $(seq "$rounds"); do
  rm -f "$work/pulled.daxfs" "$work/packed.daxfs"; rm -rf "$work/fetched"
  t0=$(ms)
  /usr/bin/time -f '%e %U %S' -o "$work/time1.txt" "$daxload" pull --pack -q --plain-http --name synthetic "$host/$repo:v1" -o "$work/pulled.daxfs" >/dev/null
  t1=$(ms)
  mkdir "$work/fetched"
  curl -fsS -o "$work/fetched/model.safetensors" "http://$host/v2/$repo/blobs/$weights"
  curl -fsS -o "$work/fetched/config.json" "http://$host/v2/$repo/blobs/$config"
  sync -f "$work/fetched/model.safetensors"
  # a pull checks what it fetched (skopeo, modctl, ORAS do): the layer's digest
  [ "sha256:$(sha256sum "$work/fetched/model.safetensors" | cut -d' ' -f1)" = "$weights" ] || { echo "pull-pack: fetched layer differs" >&2; exit 1; }
  t2=$(ms)
  /usr/bin/time -f '%e %U %S' -o "$work/time2.txt" "$daxload" pack-model -q --name synthetic "$work/fetched" -o "$work/packed.daxfs"
  t3=$(ms)
  cmp -s "$work/pulled.daxfs" "$work/packed.daxfs" || { echo "pull-pack: the two images differ" >&2; exit 1; }
  printf '%s,%d,%d,%d,%d,%d\n' "$r" $((t1 - t0)) "$(awk '{printf "%d", ($2 + $3) * 1000}' "$work/time1.txt")" \
    $((t2 - t1)) $((t3 - t2)) "$(awk '{printf "%d", ($2 + $3) * 1000}' "$work/time2.txt")" >> "$work/results.csv"
done
cat "$work/results.csv"
python3 - "$work/results.csv" "$bytes" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
size = int(sys.argv[2])
med = lambda k: statistics.median(int(r[k]) for r in rows)
usual = lambda r: int(r["fetch_ms"]) + int(r["pack_model_ms"])
print(f"weights {size / 2**30:.2f} GiB, {len(rows)} rounds (medians), load average {open('/proc/loadavg').read().split()[0]} at the end:")
print(f"  pull --pack {med('pull_pack_ms')} ms (CPU {med('pull_pack_cpu_ms')} ms); fetch + sync + sha256sum {med('fetch_ms')} ms then pack-model "
      f"{med('pack_model_ms')} ms (CPU {med('pack_model_cpu_ms')} ms, curl's not counted)")
print(f"  (fetch + pack-model) / pull --pack: {statistics.median(usual(r) / int(r['pull_pack_ms']) for r in rows):.2f}; "
      f"disk written: pull --pack {size / 2**30:.2f} GiB (the image), the usual way {2 * size / 2**30:.2f} GiB (file, then image)")
PY
