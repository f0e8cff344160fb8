"""The Open Inference Protocol v2 with Triton's binary tensor extension, encoded and decoded
with NumPy."""

from __future__ import annotations

import json
import struct
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ._errors import DepotError
from ._types import ModelMetadata

# Datatype -> little-endian NumPy dtype (BYTES is handled apart).
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}

_KIND_TO_DATATYPE = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}


def datatype_of(array: npt.NDArray[Any]) -> str:
    """The protocol datatype of an array (object, str and bytes arrays are BYTES)."""
    if array.dtype.kind in ("O", "U", "S"):
        return "BYTES"
    dt = array.dtype.newbyteorder("=")
    if dt in _KIND_TO_DATATYPE:
        return _KIND_TO_DATATYPE[dt]
    raise DepotError(f"arrays of dtype {array.dtype} have no Open Inference Protocol datatype")


def to_datatype(value: Any, datatype: str) -> npt.NDArray[Any]:
    """`value` as an array of `datatype` (cast if need be)."""
    if datatype == "BYTES":
        arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        return arr
    dt = DTYPES.get(datatype)
    if dt is None:
        raise DepotError(f"datatype {datatype} is not supported by this client")
    arr = np.asarray(value)
    if arr.dtype != dt:
        arr = arr.astype(dt)
    return arr


def encode_tensor(array: npt.NDArray[Any], datatype: str) -> bytes:
    """The raw bytes of a tensor: little-endian, row-major; BOOL one byte per element; BYTES
    each element as a 4-byte little-endian length and its bytes."""
    if datatype == "BYTES":
        parts: list[bytes] = []
        for item in np.asarray(array, dtype=object).reshape(-1):
            b = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=DTYPES[datatype]).tobytes()


def decode_tensor(raw: memoryview | bytes, datatype: str, shape: Sequence[int]) -> npt.NDArray[Any]:
    if datatype == "BYTES":
        items: list[bytes] = []
        buf = bytes(raw)
        pos = 0
        while pos < len(buf):
            (n,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            items.append(buf[pos : pos + n])
            pos += n
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)
    dt = DTYPES.get(datatype)
    if dt is None:
        raise DepotError(f"the server answered datatype {datatype}, which this client cannot decode")
    arr = np.frombuffer(raw, dtype=dt)
    # A writable array in native byte order, independent of the response buffer.
    return arr.astype(dt.newbyteorder("="), copy=True).reshape(shape)


def decode_json_tensor(data: Any, datatype: str, shape: Sequence[int]) -> npt.NDArray[Any]:
    if datatype == "BYTES":
        out = np.empty(len(data), dtype=object)
        out[:] = [d.encode("utf-8") if isinstance(d, str) else d for d in data]
        return out.reshape(shape)
    return np.asarray(data, dtype=DTYPES[datatype]).reshape(shape)


def build_request(
    inputs: Mapping[str, Any],
    metadata: ModelMetadata,
) -> tuple[bytes, int]:
    """The binary request body for named inputs (cast to the signature's datatypes) and its
    JSON header's length."""
    specs = {t.name: t for t in metadata.inputs}
    header_inputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, value in inputs.items():
        spec = specs.get(name)
        if spec is not None:
            datatype = spec.datatype
            arr = to_datatype(value, datatype)
        else:
            # Unknown to the signature: sent as is, for the server to name in its refusal.
            arr = value if isinstance(value, np.ndarray) else np.asarray(value)
            datatype = datatype_of(arr)
        blob = encode_tensor(arr, datatype)
        blobs.append(blob)
        header_inputs.append(
            {
                "name": name,
                "shape": list(arr.shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": len(blob)},
            }
        )
    header = {
        "inputs": header_inputs,
        "outputs": [{"name": o.name, "parameters": {"binary_data": True}} for o in metadata.outputs],
    }
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return b"".join([head, *blobs]), len(head)


def parse_response(body: bytes, header_length: int | None) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The response's JSON header and its outputs as arrays, in the server's order."""
    if header_length is None:
        header_length = len(body)
    view = memoryview(body)
    header: dict[str, Any] = json.loads(bytes(view[:header_length]))
    offset = header_length
    outputs: dict[str, npt.NDArray[Any]] = {}
    for out in header.get("outputs", []):
        name, datatype, shape = out["name"], out["datatype"], out["shape"]
        params = out.get("parameters") or {}
        size = params.get("binary_data_size")
        if size is not None:
            outputs[name] = decode_tensor(view[offset : offset + size], datatype, shape)
            offset += size
        else:
            outputs[name] = decode_json_tensor(out.get("data", []), datatype, shape)
    return header, outputs
