"""Drives a running Depot with the real Open Inference Protocol client (tritonclient[http], default
settings: binary tensors) and checks its answers against Python onnxruntime on the same model.

Usage: DEPOT_TOKEN=depot_... oip_client_check.py URL MODEL VERSION ONNX_FILE
The token goes in an `Authorization: Bearer` header, as tritonclient sends any header; without
one, the check expects the server to refuse with 401 in the protocol's error shape.
Exits non-zero (with the reason) on any mismatch. Used by the end-to-end tests.
"""

import os
import sys

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient

NUMPY_TO_OIP = {
    np.float32: "FP32", np.float64: "FP64", np.int64: "INT64", np.int32: "INT32", np.int16: "INT16",
    np.int8: "INT8", np.uint8: "UINT8", np.bool_: "BOOL", np.object_: "BYTES",
}
ORT_TO_NUMPY = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


def sample(shape, dtype, rng):
    shape = [d if isinstance(d, int) and d > 0 else 2 for d in shape]
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype == np.object_:
        return np.array([f"s{i}".encode() for i in range(int(np.prod(shape)))], dtype=np.object_).reshape(shape)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 50, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def main():
    url, model, version, onnx_file = sys.argv[1:5]
    host = url.removeprefix("http://")
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    # Symbolic dimensions shared by several inputs must agree: use 2 for every dynamic one.
    feeds = {i.name: sample(i.shape, ORT_TO_NUMPY[i.type], rng) for i in session.get_inputs()}
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))

    client = httpclient.InferenceServerClient(url=host)
    token = os.environ.get("DEPOT_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    # Without a token the model routes refuse, in the protocol's error shape.
    assert not client.is_model_ready(model, version), "a model route answered without a token"
    try:
        client.get_model_metadata(model, version)
    except Exception as error:  # InferenceServerException
        assert "token" in str(error), str(error)
    else:
        raise AssertionError("metadata was served without a token")
    assert client.is_model_ready(model, version, headers=headers), "model not ready"
    metadata = client.get_model_metadata(model, version, headers=headers)
    assert [i["name"] for i in metadata["inputs"]] == list(feeds), metadata

    inputs = []
    for name, value in feeds.items():
        tensor = httpclient.InferInput(name, list(value.shape), NUMPY_TO_OIP[value.dtype.type])
        tensor.set_data_from_numpy(value)  # binary by default
        inputs.append(tensor)
    for binary_outputs in (True, False):
        outputs = [httpclient.InferRequestedOutput(n, binary_data=binary_outputs) for n in expected]
        result = client.infer(model, inputs, model_version=version, outputs=outputs, headers=headers)
        for name, want in expected.items():
            got = result.as_numpy(name)
            if want.dtype.kind in "fc":
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
            elif want.dtype == np.object_:
                assert [g.decode() if isinstance(g, bytes) else g for g in got.ravel()] == list(want.ravel()), name
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)
    # An error takes the protocol's shape and the client raises it.
    stray = httpclient.InferInput("no_such_input", [1], "FP32")
    stray.set_data_from_numpy(np.zeros([1], dtype=np.float32))
    try:
        client.infer(model, [stray], model_version=version, headers=headers)
    except Exception as error:  # tritonclient raises InferenceServerException
        assert "no_such_input" in str(error), str(error)
    else:
        raise AssertionError("an unknown input was accepted")
    print(f"ok: {model}/{version} with {len(inputs)} inputs, {len(expected)} outputs")


if __name__ == "__main__":
    main()
