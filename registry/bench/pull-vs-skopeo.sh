#!/usr/bin/env bash
# daxload pull of a synthetic image from a registry on loopback, against skopeo copy of the same bytes (the image's
# container-image form, pushed with --as-image) from the same registry into a dir: layout, and against the disk's
# own write speed (dd of the image with fsync). Rounds alternate the three, so drift hits each alike; every run
# ends with the bytes on disk (daxload pull fsyncs before its rename; skopeo is followed by sync -f).
#   registry/bench/pull-vs-skopeo.sh SIZE_GB [ROUNDS]      e.g. registry/bench/pull-vs-skopeo.sh 4 3
# STREAMS="1 4" (the default) also times daxload pull --streams N for each N in the same rounds; the first is the
# baseline of the streams ratios, the last is what the kill -9 test uses. LINK_MBPS=M puts a relay between the pulls
# and the registry that carries at most M MB/s per connection (slow-link.py): a distant registry; skopeo goes through
# it too (it fetches its one layer over one connection).
# Needs docker-registry, skopeo and python3; uses bin/daxload (built on first use). Leaves nothing behind.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$here/registry/bench/local-registry.sh"
size_gb=${1:?size in GB}
rounds=${2:-3}
read -r -a streams <<< "${STREAMS:-1 4}"
mkdir -p "$here/target"
work=$(mktemp -d "${TMPDIR:-$here/target}/pull-bench.XXXXXX")
cleanup() { [ -n "${link_pid:-}" ] && kill "$link_pid" 2>/dev/null; [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
daxload="$here/bin/daxload"

echo "making a ${size_gb} GB synthetic safetensors file (F16, 64 MiB tensors, random bytes)" >&2
synthetic_safetensors "$work/synthetic.safetensors" "$size_gb"
"$daxload" pack-model -q --name synthetic "$work/synthetic.safetensors" -o "$work/image.daxfs"
rm "$work/synthetic.safetensors"
bytes=$(stat -c %s "$work/image.daxfs")

start_registry "$work"
"$daxload" push -q --plain-http "$work/image.daxfs" "$host/bench/synthetic:modelpack" >/dev/null
"$daxload" push -q --plain-http --as-image "$work/image.daxfs" "$host/bench/synthetic:image" >/dev/null
if [ -n "${LINK_MBPS:-}" ]; then
  link_port=$(free_port)
  python3 "$here/registry/bench/slow-link.py" "$link_port" "$port" "$LINK_MBPS" &
  link_pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$link_port/v2/" >/dev/null && break; sleep 0.1; done
  echo "pulls go through a relay of $LINK_MBPS MB/s per connection" >&2
  host=127.0.0.1:$link_port
fi

ms() { echo $(( $(date +%s%N) / 1000000 )); }
cpu_ms() {  # user+sys CPU of the children reaped so far, in ms
  python3 -c 'import os; t=os.times(); print(int((t.children_user+t.children_system)*1000))'
}
header=round
for n in "${streams[@]}"; do header+=",pull_s${n}_ms,pull_s${n}_cpu_ms"; done
printf '%s,open_ms,skopeo_copy_ms,read_ms,dd_fsync_ms\n' "$header" > "$work/results.csv"
for r in $(seq "$rounds"); do
  row=$r
  for n in "${streams[@]}"; do
    rm -f "$work/pulled.daxfs"
    t0=$(ms)
    /usr/bin/time -f '%e %U %S' -o "$work/time.txt" "$daxload" pull -q --plain-http --streams "$n" "$host/bench/synthetic:modelpack" -o "$work/pulled.daxfs" >/dev/null
    t1=$(ms)
    cmp -s "$work/image.daxfs" "$work/pulled.daxfs" || { echo "pull-vs-skopeo: pulled bytes differ (--streams $n)" >&2; exit 1; }
    row+=",$((t1 - t0)),$(awk '{printf "%d", ($2 + $3) * 1000}' "$work/time.txt")"
    if [ "$n" = "${streams[0]}" ]; then
      # the model loaded from the pulled image: a new JVM maps it and opens every tensor's view (zero copy)
      t2=$(ms); "$daxload" tensors "$work/pulled.daxfs" synthetic >/dev/null; open_ms=$(( $(ms) - t2 ))
    fi
  done
  row+=",$open_ms"
  rm -f "$work/pulled.daxfs"; rm -rf "$work/skopeo"; rm -f "$work/dd.out"
  t1=$(ms)
  skopeo copy -q --src-tls-verify=false "docker://$host/bench/synthetic:image" "dir:$work/skopeo" >/dev/null; sync -f "$work/skopeo"; t2=$(ms)
  # pull-then-load the usual way: the weights read from the pulled layer into the loading process's memory
  python3 -c 'import os, sys
f = max((os.path.join(sys.argv[1], n) for n in os.listdir(sys.argv[1])), key=os.path.getsize)
buf = bytearray(os.path.getsize(f)); view = memoryview(buf); pos = 0
with open(f, "rb", buffering=0) as src:
    while pos < len(buf):
        n = src.readinto(view[pos:pos + (16 << 20)]); pos += n
        if not n: break' "$work/skopeo"
  t2r=$(ms)
  dd if="$work/image.daxfs" of="$work/dd.out" bs=16M conv=fsync status=none; t3=$(ms)
  printf '%s,%d,%d,%d\n' "$row" $((t2 - t1)) $((t2r - t2)) $((t3 - t2r)) >> "$work/results.csv"
done
rm -rf "$work/skopeo" "$work/dd.out"
cat "$work/results.csv"

# kill -9 at a quarter, then pull again: how much does the registry send twice?
blob_bytes() {  # bytes the registry has sent for GETs of the ModelPack layer so far
  python3 - "$work/registry.log" "$1" <<'PY'
import json, sys
total = 0
for line in open(sys.argv[1]):
    if line.startswith("{") and "http.response.written" in line:
        o = json.loads(line)
        if o.get("http.request.method") == "GET" and sys.argv[2] in o.get("http.request.uri", ""):
            total += o["http.response.written"]
print(total)
PY
}
layer=sha256:$(sha256sum "$work/image.daxfs" | cut -d' ' -f1)
rm -f "$work/killed.daxfs"
before=$(blob_bytes "$layer")
kill_streams=${streams[-1]}
"$daxload" pull -q --plain-http --streams "$kill_streams" "$host/bench/synthetic:modelpack" -o "$work/killed.daxfs" >/dev/null 2>&1 &
puller=$!
partial="$work/.killed.daxfs.${layer:7:16}.daxload-pull"
present() {  # bytes the partial file holds: its allocated blocks (several streams write it with holes)
  echo $(( $(stat -c %b "$partial" 2>/dev/null || echo 0) * 512 ))
}
while kill -0 "$puller" 2>/dev/null; do
  have=$(present)
  [ "$have" -ge $((bytes / 4)) ] && break
  sleep 0.05
done
kill -9 "$puller" 2>/dev/null || true; wait "$puller" 2>/dev/null || true
at_kill=$(present)
"$daxload" pull -q --plain-http --streams "$kill_streams" "$host/bench/synthetic:modelpack" -o "$work/killed.daxfs" >/dev/null
cmp -s "$work/image.daxfs" "$work/killed.daxfs" || { echo "pull-vs-skopeo: resumed pull differs" >&2; exit 1; }
sleep 1  # the registry logs an answer when it completes
twice=$(( $(blob_bytes "$layer") - before - bytes ))
echo "kill -9 (--streams $kill_streams) at $at_kill of $bytes bytes; resumed pull identical; sent twice: $twice bytes ($(( twice >> 20 )) MiB)"
python3 - "$work/results.csv" "$bytes" "${streams[@]}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
size = int(sys.argv[2])
streams = sys.argv[3:]
med = lambda k: statistics.median(int(r[k]) for r in rows)
ratio = lambda a, b: statistics.median(int(r[a]) / int(r[b]) for r in rows)
print(f"image {size / 2**30:.2f} GiB, {len(rows)} rounds (medians), load average {open('/proc/loadavg').read().split()[0]} at the end:")
for n in streams:
    k = f"pull_s{n}_ms"
    print(f"  daxload pull --streams {n}: {med(k)} ms ({size / med(k) / 1e6:.2f} GB/s), CPU {med(f'pull_s{n}_cpu_ms')} ms; "
          f"skopeo/daxload {ratio('skopeo_copy_ms', k):.2f}; dd/daxload {ratio('dd_fsync_ms', k):.2f}")
base = f"pull_s{streams[0]}_ms"
for n in streams[1:]:
    print(f"  --streams {streams[0]} / --streams {n} (> 1.0: {n} streams faster): {ratio(base, f'pull_s{n}_ms'):.2f}")
print(f"  skopeo copy {med('skopeo_copy_ms')} ms, dd+fsync {med('dd_fsync_ms')} ms")
loaded = lambda r: int(r[base]) + int(r["open_ms"])
usual = lambda r: int(r["skopeo_copy_ms"]) + int(r["read_ms"])
print(f"  pull start to a loaded model: daxload pull --streams {streams[0]} then open (new JVM, zero copy) "
      f"{statistics.median(loaded(r) for r in rows)} ms (open {med('open_ms')} ms); skopeo copy then weights read into "
      f"memory {statistics.median(usual(r) for r in rows)} ms (read {med('read_ms')} ms); "
      f"usual/daxload {statistics.median(usual(r) / loaded(r) for r in rows):.2f}")
PY
