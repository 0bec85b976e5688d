"""Minimal safetensors reader/writer in pure Python + numpy.

File layout (https://github.com/huggingface/safetensors, "format"):

    u64 little-endian   N = length of the JSON header in bytes
    N bytes             UTF-8 JSON object:
                          {"__metadata__": {str: str, ...},            (optional)
                           "<name>": {"dtype": "F32", "shape": [..],
                                      "data_offsets": [begin, end]}, ...}
                        padded with trailing spaces so that N % 8 == 0
    data area           the tensors' bytes, little-endian, C order; offsets are
                        relative to the start of the data area

`write` lays the tensors out contiguously in the order given (no holes, no
alignment padding between tensors), which is what the reference
implementation does too.

BF16 tensors have no numpy dtype: they are read and written as raw uint16
arrays (the upper 16 bits of the float32 value); see `bf16_to_f32` and
`f32_to_bf16`.
"""

import json
import struct

import numpy as np

# safetensors dtype tag -> numpy dtype (little-endian)
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

# numpy dtype -> tag, for writing (uint16 is written as U16 unless the caller
# asks for BF16 explicitly with a (name, array, "BF16") triple)
_TAGS = {
    np.dtype("f8"): "F64",
    np.dtype("f4"): "F32",
    np.dtype("f2"): "F16",
    np.dtype("i8"): "I64",
    np.dtype("i4"): "I32",
    np.dtype("i2"): "I16",
    np.dtype("i1"): "I8",
    np.dtype("u8"): "U64",
    np.dtype("u4"): "U32",
    np.dtype("u2"): "U16",
    np.dtype("u1"): "U8",
    np.dtype("?"): "BOOL",
}

MAX_HEADER = 100 * 1024 * 1024


def read(path):
    """Read a safetensors file.

    Returns (tensors, metadata): tensors is a dict name -> np.ndarray (BF16
    tensors come back as uint16 raw bits; the tag is available through
    `read_dtypes`), metadata is the `__metadata__` dict (empty if absent).
    """
    with open(path, "rb") as f:
        blob = f.read()
    tensors, metadata, _ = _parse(blob, path)
    return tensors, metadata


def read_dtypes(path):
    """name -> safetensors dtype tag, in header order."""
    with open(path, "rb") as f:
        blob = f.read()
    return _parse(blob, path)[2]


def _parse(blob, path):
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or 8 + n > len(blob):
        raise ValueError(f"{path}: bad header length {n}")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n:]
    tensors = {}
    tags = {}
    for name, info in header.items():
        tag = info["dtype"]
        if tag not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r}: unsupported dtype {tag}")
        dt = _DTYPES[tag]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(v) for v in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(data)) or end - begin != count * dt.itemsize:
            raise ValueError(f"{path}: tensor {name!r}: bad data_offsets {begin},{end}")
        arr = np.frombuffer(data[begin:end], dtype=dt, count=count).reshape(shape).copy()
        tensors[name] = arr
        tags[name] = tag
    return tensors, metadata, tags


def write(path, tensors, metadata=None):
    """Write a safetensors file.

    tensors: a dict name -> array, or a list of (name, array) pairs (their
    order is kept; a dict keeps insertion order). A triple (name, array, tag)
    forces the tag, e.g. (name, uint16_bits, "BF16").
    metadata: dict str -> str, stored as "__metadata__".
    """
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must be str -> str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for item in items:
        if len(item) == 3:
            name, arr, tag = item
        else:
            name, arr = item
            tag = None
        if name == "__metadata__" or name in header:
            raise ValueError(f"duplicate or reserved tensor name {name!r}")
        arr = np.asarray(arr)
        if tag is None:
            tag = _TAGS.get(np.dtype(arr.dtype.kind + str(arr.dtype.itemsize)))
            if tag is None:
                raise TypeError(f"tensor {name!r}: unsupported numpy dtype {arr.dtype}")
        dt = _DTYPES[tag]
        if tag == "BF16" and arr.dtype != np.uint16:
            raise TypeError(f"tensor {name!r}: BF16 needs uint16 raw bits")
        raw = np.ascontiguousarray(arr.astype(dt, copy=False)).tobytes()
        header[name] = {"dtype": tag, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in chunks:
            f.write(raw)


def f32_to_bf16(x):
    """float32 array -> uint16 bf16 bits, round to nearest even (NaN kept NaN)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((b >> 16) & 1) + np.uint32(0x7FFF)
    out = ((b + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    out[nan] = np.uint16(0x7FC0)
    return out


def bf16_to_f32(bits):
    """uint16 bf16 bits -> float32 array (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
