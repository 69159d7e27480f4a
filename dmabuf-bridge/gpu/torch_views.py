#!/usr/bin/env python3
"""PyTorch CUDA views over a daxload image that another process holds in GPU memory.

Run by run-gpu-checks.sh on the GPU machine, with the PyTorch that machine has (no network there,
so the model is all-MiniLM-L6-v2's architecture with seeded random weights, written here):

  torch_views.py make DIR
      writes DIR/model.safetensors: a BertModel shaped like all-MiniLM-L6-v2 (6 layers, 384 wide,
      seed 0) plus one small tensor of every dtype PyTorch and safetensors share ("extra.*").

  torch_views.py check --socket SOCK --views VIEWS.jsonl --image IMAGE --source DIR/model.safetensors
      receives the device memory from `daxload gpu load IMAGE --share SOCK` (one fd over the Unix
      socket, as `daxload gpu attach` does), maps it with the driver's VMM calls, and makes every
      tensor a CUDA tensor with libtorch's aoti_torch_create_tensor_from_blob, using exactly the
      arguments `daxload gpu views` printed (VIEWS.jsonl). Then it checks, and exits 1 if any fails:
        - libtorch's own dtype codes equal daxload's (TorchCuda's table);
        - each view's data pointer is the mapping's base + the tensor's offset (no copy);
        - each view's bytes equal the image file's bytes at that offset;
        - device memory does not grow by the model's size when the views are made;
        - the model run over the views gives outputs bit-identical to the same model loaded the
          plain way onto the GPU, and within float32 rounding of the CPU run.
"""
import argparse
import ctypes
import json
import os
import socket
import struct
import sys
import time

CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2)


def log(*a):
    print("torch_views:", *a, flush=True)


def make(out_dir):
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    model = BertModel(BertConfig(**CONFIG)).eval()
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    tensors.update({
        "extra.f16": torch.randn(64, 33, generator=g).half(),
        "extra.bf16": torch.randn(64, 33, generator=g).bfloat16(),
        "extra.f64": torch.randn(17, generator=g).double(),
        "extra.i64": torch.randint(-2**40, 2**40, (19,), generator=g),
        "extra.i32": torch.randint(-2**30, 2**30, (5, 7), generator=g, dtype=torch.int32),
        "extra.i16": torch.randint(-2**14, 2**14, (33,), generator=g, dtype=torch.int16),
        "extra.i8": torch.randint(-128, 127, (3, 3, 3), generator=g, dtype=torch.int8),
        "extra.u8": torch.randint(0, 255, (77,), generator=g, dtype=torch.uint8),
        "extra.bool": torch.randint(0, 2, (13,), generator=g).bool(),
        "extra.f8_e4m3": torch.randn(32, generator=g).to(torch.float8_e4m3fn),
        "extra.f8_e5m2": torch.randn(32, generator=g).to(torch.float8_e5m2),
        "extra.scalar": torch.tensor(3.25),
    })
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "model.safetensors"))
    log(f"wrote {len(tensors)} tensors to {out_dir}/model.safetensors")


class CUmemLocation(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]


class CUmemAccessDesc(ctypes.Structure):
    _fields_ = [("location", CUmemLocation), ("flags", ctypes.c_int)]


def driver():
    cu = ctypes.CDLL("libcuda.so.1")
    u64, size_t = ctypes.c_ulonglong, ctypes.c_size_t
    sig = {
        "cuMemImportFromShareableHandle": [ctypes.POINTER(u64), ctypes.c_void_p, ctypes.c_int],
        "cuMemAddressReserve": [ctypes.POINTER(u64), size_t, size_t, u64, u64],
        "cuMemMap": [u64, size_t, size_t, u64, u64],
        "cuMemSetAccess": [u64, size_t, ctypes.POINTER(CUmemAccessDesc), size_t],
        "cuMemUnmap": [u64, size_t],
        "cuMemAddressFree": [u64, size_t],
        "cuMemRelease": [u64],
    }
    for name, args in sig.items():
        getattr(cu, name).argtypes = args
        getattr(cu, name).restype = ctypes.c_int
    return cu


def ok(r, call):
    if r != 0:
        raise RuntimeError(f"{call} failed: CUresult {r}")


def receive(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    msg, fds, _, _ = socket.recv_fds(s, 32, 1)
    s.close()
    if len(msg) != 32 or len(fds) != 1:
        raise RuntimeError(f"{sock_path}: expected a 32-byte header and one fd, got {len(msg)} bytes and {len(fds)} fds")
    magic, alloc, image, device, pid = struct.unpack("<8sqqii", msg)
    if magic != b"DAXGPU01":
        raise RuntimeError(f"{sock_path}: not a daxload GPU share ({magic!r})")
    return fds[0], alloc, image, device, pid


def check(args):
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel
    failures = []

    def expect(cond, what):
        log(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    torch.zeros(1, device="cuda")  # the primary context, current on this thread
    log(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    fd, alloc, image_size, device, pid = receive(args.socket)
    free0, total = torch.cuda.mem_get_info()
    cu = driver()
    t0 = time.perf_counter()
    handle = ctypes.c_ulonglong()
    ok(cu.cuMemImportFromShareableHandle(ctypes.byref(handle), ctypes.c_void_p(fd), 1), "cuMemImportFromShareableHandle")
    base = ctypes.c_ulonglong()
    ok(cu.cuMemAddressReserve(ctypes.byref(base), alloc, 0, 0, 0), "cuMemAddressReserve")
    ok(cu.cuMemMap(base.value, alloc, 0, handle.value, 0), "cuMemMap")
    access = CUmemAccessDesc(CUmemLocation(1, device), 3)
    ok(cu.cuMemSetAccess(base.value, alloc, ctypes.byref(access), 1), "cuMemSetAccess")
    attach_ms = (time.perf_counter() - t0) * 1e3
    free1, _ = torch.cuda.mem_get_info()
    log(f"attached {image_size} bytes from pid {pid} at 0x{base.value:x} in {attach_ms:.2f} ms; "
        f"device memory used +{(free0 - free1) / 2**20:.1f} MiB by the attach")
    expect(free0 - free1 < image_size // 2, "attaching the holder's memory adds no second copy on the device")

    lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
    from_blob = lib.aoti_torch_create_tensor_from_blob
    from_blob.restype = ctypes.c_int32
    from_blob.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64),
                          ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]
    lib.aoti_torch_device_type_cuda.restype = ctypes.c_int32

    specs = [json.loads(line) for line in open(args.views) if line.strip()]
    refused = [s for s in specs if "refused" in s]
    for s in refused:
        log(f"refused by daxload: {s['name']} ({s['dtype']}): {s['refused']}")
    made = [s for s in specs if "refused" not in s]
    for name in sorted({s["torchDtype"] for s in made}):
        fn = getattr(lib, "aoti_torch_dtype_" + name)
        fn.restype = ctypes.c_int32
        codes = {s["scalarType"] for s in made if s["torchDtype"] == name}
        expect(codes == {fn()}, f"dtype {name}: daxload says {sorted(codes)}, libtorch {fn()}")
    expect(all(s["deviceType"] == lib.aoti_torch_device_type_cuda() for s in made), "device type is libtorch's CUDA")

    steal = getattr(torch._C._aoti, "alloc_tensor_by_stealing_from_void_ptr", None)
    # pybind11 takes a void* argument as a PyCapsule (what torch's own unsafe_alloc_void_ptr_from_tensor returns).
    capsule = ctypes.pythonapi.PyCapsule_New
    capsule.restype = ctypes.py_object
    capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    route = []

    def adopt(handle, s):
        """The at::Tensor behind libtorch's handle as a Python tensor; pybind11 takes void* as a capsule."""
        if steal is not None:
            for arg in (lambda: capsule(handle, None, None), lambda: ctypes.c_void_p(handle), lambda: handle):
                try:
                    t = steal(arg())
                    route.append("aoti handle")
                    return t
                except TypeError:
                    continue
        # Same memory, no copy, through the CUDA array interface: bytes first, then the dtype and shape.
        route.append("cuda array interface")

        class Raw:
            __cuda_array_interface__ = {"shape": (s["length"],), "typestr": "|u1", "data": (base.value + s["offset"], False),
                                        "version": 3, "strides": None}
        dtype = getattr(torch, s["torchDtype"])
        return torch.as_tensor(Raw(), device="cuda").view(dtype).reshape(s["sizes"])

    alloc0 = torch.cuda.memory_allocated()
    free_before_views, _ = torch.cuda.mem_get_info()
    views = {}
    for s in made:
        n = len(s["sizes"])
        sizes = (ctypes.c_int64 * max(n, 1))(*s["sizes"])
        strides = (ctypes.c_int64 * max(n, 1))(*s["strides"])
        out = ctypes.c_void_p()
        r = from_blob(ctypes.c_void_p(base.value + s["offset"]), n, sizes, strides, 0, s["scalarType"], s["deviceType"],
                      s["deviceIndex"], ctypes.byref(out))
        if r != 0:
            failures.append(f"aoti_torch_create_tensor_from_blob({s['name']}) returned {r}")
            continue
        views[s["name"]] = adopt(out.value, s)
    free_after_views, _ = torch.cuda.mem_get_info()
    log(f"views made through: {sorted(set(route))}")
    expect(torch.cuda.memory_allocated() == alloc0, f"{len(views)} views allocate nothing from PyTorch's allocator")
    expect(free_before_views - free_after_views < 64 << 20,
           f"device memory grows by {(free_before_views - free_after_views) / 2**20:.1f} MiB for the views")
    expect(all(views[s["name"]].data_ptr() == base.value + s["offset"] for s in made if s["name"] in views),
           "every view's data pointer is the mapping's base + the tensor's offset")
    expect(all(views[s["name"]].is_cuda for s in made if s["name"] in views), "every view is a CUDA tensor")

    with open(args.image, "rb") as f:
        same = True
        for s in made:
            t = views.get(s["name"])
            if t is None:
                continue
            f.seek(s["offset"])
            want = f.read(s["length"])
            got = t.reshape(-1).view(torch.uint8).cpu().numpy().tobytes()
            if got != want:
                same = False
                log(f"bytes differ: {s['name']}")
        expect(same, f"all {len(views)} views hold the image's bytes")

    config = BertConfig(**CONFIG)
    weights = {k: v for k, v in views.items() if not k.startswith("extra.")}
    torch.manual_seed(2)
    ids = torch.randint(1000, 30000, (4, 64))
    mask = torch.ones_like(ids)
    mask[1, 40:] = 0

    with torch.no_grad():
        m_views = BertModel(config).eval()
        missing, unexpected = m_views.load_state_dict(weights, strict=False, assign=True)
        expect(not unexpected and all("position_ids" in k or "token_type_ids" in k for k in missing),
               f"the views cover the model (missing {missing}, unexpected {unexpected})")
        m_views = m_views.to("cuda")
        expect(all(p.data_ptr() == views[n].data_ptr() for n, p in m_views.named_parameters() if n in views),
               "the model's CUDA parameters are the views themselves")
        out_views = m_views(input_ids=ids.cuda(), attention_mask=mask.cuda())

        plain_state = load_file(args.source)
        m_plain = BertModel(config).eval()
        m_plain.load_state_dict({k: v for k, v in plain_state.items() if not k.startswith("extra.")}, strict=False)
        m_cpu_out = m_plain(input_ids=ids, attention_mask=mask)
        m_plain = m_plain.to("cuda")
        out_plain = m_plain(input_ids=ids.cuda(), attention_mask=mask.cuda())
        torch.cuda.synchronize()

    for key in ("last_hidden_state", "pooler_output"):
        a, b = out_views[key], out_plain[key]
        expect(torch.equal(a, b), f"{key} over the views is bit-identical to the plain GPU load")
        diff = (a.cpu() - m_cpu_out[key]).abs().max().item()
        expect(diff < 1e-4, f"{key} over the views matches the CPU run (max abs difference {diff:.3g})")
    for k, v in plain_state.items():
        if k.startswith("extra.") and k in views:
            got = views[k].cpu().reshape(-1).view(torch.uint8)
            expect(views[k].dtype == v.dtype and torch.equal(got, v.reshape(-1).view(torch.uint8)),
                   f"{k} ({v.dtype}) equals safetensors' own load")

    del m_views, out_views, views, weights
    torch.cuda.synchronize()
    ok(cu.cuMemUnmap(base.value, alloc), "cuMemUnmap")
    ok(cu.cuMemAddressFree(base.value, alloc), "cuMemAddressFree")
    ok(cu.cuMemRelease(handle.value), "cuMemRelease")
    os.close(fd)
    log(f"{len(made)} views made, {len(refused)} refused by daxload, {len(failures)} failures")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("dir")
    ck = sub.add_parser("check")
    ck.add_argument("--socket", required=True)
    ck.add_argument("--views", required=True)
    ck.add_argument("--image", required=True)
    ck.add_argument("--source", required=True)
    a = p.parse_args()
    if a.cmd == "make":
        make(a.dir)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
