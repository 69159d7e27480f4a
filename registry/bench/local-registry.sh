# Sourced by the registry benchmarks (registry/bench/pull-vs-skopeo.sh, cli/bench/pull-pack.sh): a synthetic model
# and a registry on loopback, made the same way for each.

# free_port -> a TCP port on 127.0.0.1 that nothing listens on now
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# synthetic_safetensors PATH GB: a safetensors file of GB gigabytes in F16 tensors of 64 MiB, random bytes
synthetic_safetensors() {
  python3 - "$1" "$2" <<'PY'
import json, os, struct, sys
path, gb = sys.argv[1], float(sys.argv[2])
tensor = 64 << 20
count = max(1, int(gb * (1 << 30)) // tensor)
header, off = {}, 0
for i in range(count):
    header[f"layer.{i}.weight"] = {"dtype": "F16", "shape": [4096, tensor // 8192], "data_offsets": [off, off + tensor]}
    off += tensor
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    block = os.urandom(tensor)
    for i in range(count):
        f.write(block[i % 7:] + block[:i % 7])  # distinct tensors without paying urandom per byte
PY
}

# start_registry WORK: docker-registry storing under WORK/storage, logging to WORK/registry.log; sets port, reg_pid
# (the caller's cleanup kills it) and host, and returns once it answers
start_registry() {
  port=$(free_port)
  cat > "$1/registry.yml" <<YML
version: 0.1
log: {level: info, formatter: json}
storage: {filesystem: {rootdirectory: $1/storage}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$1/registry.yml" > "$1/registry.log" 2>&1 &
  reg_pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  host=127.0.0.1:$port
}
