"""The binary tensor codec, without a server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from depot import _oip
from depot._types import ModelMetadata, TensorMetadata

ARRAYS = {
    "FP32": np.array([[1.0, -2.5]], dtype=np.float32),
    "FP64": np.array([1e-300, 2.0]),
    "FP16": np.array([0.5, 1.0], dtype=np.float16),
    "INT64": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
    "INT32": np.array([1, -1], dtype=np.int32),
    "INT16": np.array([[1], [-1]], dtype=np.int16),
    "INT8": np.array([-128, 127], dtype=np.int8),
    "UINT8": np.array([0, 255], dtype=np.uint8),
    "BOOL": np.array([True, False, True]),
}


@pytest.mark.parametrize("datatype", sorted(ARRAYS))
def test_round_trip(datatype: str) -> None:
    a = ARRAYS[datatype]
    assert _oip.datatype_of(a) == datatype
    raw = _oip.encode_tensor(a, datatype)
    assert len(raw) == a.size * a.dtype.itemsize
    back = _oip.decode_tensor(raw, datatype, a.shape)
    assert back.dtype == a.dtype and back.flags.writeable
    np.testing.assert_array_equal(back, a)


def test_little_endian_on_the_wire() -> None:
    assert _oip.encode_tensor(np.array([1], dtype=">i4"), "INT32") == b"\x01\x00\x00\x00"


def test_bytes() -> None:
    a = np.array([["ab", b""], [b"\xff", "\u00e9"]], dtype=object)
    raw = _oip.encode_tensor(a, "BYTES")
    assert raw == b"\x02\x00\x00\x00ab" + b"\x00\x00\x00\x00" + b"\x01\x00\x00\x00\xff" + b"\x02\x00\x00\x00\xc3\xa9"
    back = _oip.decode_tensor(raw, "BYTES", [2, 2])
    assert back.tolist() == [[b"ab", b""], [b"\xff", "\u00e9".encode()]]


def test_request_casts_to_signature() -> None:
    md = ModelMetadata("m", ["1"], "onnx", [TensorMetadata("x", "FP32", [-1, 2])], [TensorMetadata("y", "INT64", [-1])])
    body, n = _oip.build_request({"x": [[1, 2]]}, md)
    header = json.loads(body[:n])
    assert header["inputs"] == [{"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]
    assert header["outputs"] == [{"name": "y", "parameters": {"binary_data": True}}]
    assert body[n:] == np.array([1, 2], dtype="<f4").tobytes()


def test_response_binary_and_json() -> None:
    head = json.dumps(
        {
            "model_name": "m",
            "model_version": "1",
            "outputs": [
                {"name": "a", "datatype": "INT64", "shape": [2], "parameters": {"binary_data_size": 16}},
                {"name": "b", "datatype": "FP32", "shape": [1, 2], "data": [0.5, 1.5]},
            ],
        }
    ).encode()
    body = head + np.array([7, 8], dtype="<i8").tobytes()
    header, outs = _oip.parse_response(body, len(head))
    assert header["model_version"] == "1"
    np.testing.assert_array_equal(outs["a"], [7, 8])
    assert outs["b"].dtype == np.float32 and outs["b"].shape == (1, 2)
