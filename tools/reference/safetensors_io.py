"""Minimal safetensors reader/writer for Loupe's reference tools.

Format: 8-byte little-endian unsigned header length N, then N bytes of JSON
    {name: {"dtype": D, "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}
then the raw little-endian tensor data; offsets are relative to the end of the header.
Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
"""
import json
import struct

import numpy as np
import torch

# safetensors dtype -> (torch dtype, numpy dtype used for the raw bytes, bytes per element)
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8")),
    "F32": (torch.float32, np.dtype("<f4")),
    "F16": (torch.float16, np.dtype("<f2")),
    "BF16": (torch.bfloat16, np.dtype("<i2")),  # raw bits, reinterpreted via torch
    "I64": (torch.int64, np.dtype("<i8")),
    "I32": (torch.int32, np.dtype("<i4")),
    "I16": (torch.int16, np.dtype("<i2")),
    "I8": (torch.int8, np.dtype("i1")),
    "U8": (torch.uint8, np.dtype("u1")),
    "BOOL": (torch.bool, np.dtype("u1")),
}
_TORCH_TO_ST = {v[0]: k for k, v in _DTYPES.items()}


def _to_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    elif t.dtype == torch.bool:
        arr = t.to(torch.uint8).numpy()
    else:
        arr = t.numpy()
    st = _TORCH_TO_ST[t.dtype]
    return arr.astype(_DTYPES[st][1], copy=False).tobytes(order="C")


def save_file(tensors: dict, path: str, metadata: dict = None) -> None:
    """Writes tensors (name -> torch.Tensor, in insertion order) and string metadata."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        data = _to_bytes(t)
        header[name] = {
            "dtype": _TORCH_TO_ST[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)  # pad so the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def load_file(path: str):
    """Returns (dict name -> torch.Tensor in the stored dtype, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        tdtype, ndtype = _DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw, dtype=ndtype, count=(e - b) // ndtype.itemsize, offset=base + b)
        t = torch.from_numpy(arr.copy())
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        elif info["dtype"] == "BOOL":
            t = t.to(torch.bool)
        out[name] = t.reshape(info["shape"])
    return out, metadata
