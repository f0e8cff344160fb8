"""Writes the tritonclient request vectors that the OIP tests decode, and checks that
tritonclient parses the response vector that Depot's encoder writes.

Run from the workspace root with the project's virtual environment (tritonclient[http], numpy):

    .venv/bin/python crates/serialization/src/tensors/testdata/make_vectors.py

It rewrites tritonclient_*.bin and their entries in header_lengths.json, then parses
depot_response.bin with `tritonclient.http.InferenceServerClient.parse_response_body`, as the
client does a real response, and checks the values. The test `oip::response_vector_is_stable`
keeps depot_response.bin and its header length in step with the encoder.
"""

import json
import pathlib

import numpy as np
import tritonclient.http as http

HERE = pathlib.Path(__file__).parent


def request_vectors():
    x = http.InferInput("x", [1, 4], "FP32")
    x.set_data_from_numpy(np.array([[0.5, -1.25, 3.0e38, 1.0e-45]], dtype=np.float32))
    ids = http.InferInput("ids", [2], "INT64")
    ids.set_data_from_numpy(np.array([-1, 2**40], dtype=np.int64))
    mask = http.InferInput("mask", [3], "BOOL")
    mask.set_data_from_numpy(np.array([True, False, True]))
    text = http.InferInput("text", [2], "BYTES")
    text.set_data_from_numpy(np.array([b"hi", b"\xff\x00"], dtype=np.object_))
    small = http.InferInput("small", [2, 2], "UINT8")
    small.set_data_from_numpy(np.array([[1, 2], [3, 255]], dtype=np.uint8), binary_data=False)
    outputs = [http.InferRequestedOutput("z", binary_data=False), http.InferRequestedOutput("y")]
    mixed, mixed_length = http.InferenceServerClient.generate_request_body(
        [x, ids, mask, text, small], outputs=outputs, request_id="req-1"
    )

    only = http.InferInput("x", [1, 4], "FP32")
    only.set_data_from_numpy(np.arange(4, dtype=np.float32).reshape(1, 4))
    default, default_length = http.InferenceServerClient.generate_request_body([only])
    return {"mixed": (mixed, mixed_length), "default": (default, default_length)}


def main():
    lengths_file = HERE / "header_lengths.json"
    lengths = json.loads(lengths_file.read_text()) if lengths_file.exists() else {}
    for name, (body, length) in request_vectors().items():
        (HERE / f"tritonclient_{name}.bin").write_bytes(body)
        lengths[f"tritonclient_{name}"] = length
    lengths_file.write_text(json.dumps(lengths, indent=2, sort_keys=True) + "\n")

    response = (HERE / "depot_response.bin").read_bytes()
    result = http.InferenceServerClient.parse_response_body(
        response, header_length=lengths["depot_response"]
    )
    y = result.as_numpy("y")
    z = result.as_numpy("z")
    text = result.as_numpy("text")
    assert y.dtype == np.float32 and y.shape == (1, 3), y
    np.testing.assert_array_equal(y, np.array([[0.25, -2.0, np.inf]], dtype=np.float32))
    assert z.dtype == np.int64 and z.shape == (2,), z
    np.testing.assert_array_equal(z, np.array([7, -9], dtype=np.int64))
    assert list(text) == [b"ok", b"\xff"], text
    assert result.get_response()["id"] == "req-1"
    print("tritonclient parsed depot_response.bin:", y.tolist(), z.tolist(), list(text))


if __name__ == "__main__":
    main()
