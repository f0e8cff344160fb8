from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
import pytest
import tritonclient.http as triton

import depot

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


def test_predict_refs_and_served_by(admin: depot.Client, tiny_model: str) -> None:
    x = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    by_version = admin.predict(f"{tiny_model}:1", x)
    assert list(by_version) == ["y"] and by_version["y"].shape == (5, 3) and by_version["y"].dtype == np.float32
    for ref in (tiny_model, f"{tiny_model}@prod"):
        got = admin.infer(ref, x)
        np.testing.assert_array_equal(got.outputs["y"], by_version["y"])
        assert got.served_by == f"{tiny_model}/1"
    # float64 and a dict of inputs: cast to the signature's FP32, same answer.
    np.testing.assert_array_equal(admin.predict(f"{tiny_model}:1", {"x": x.astype(np.float64)})["y"], by_version["y"])


def test_predict_equals_tritonclient(server: Any, admin: depot.Client, tiny_model: str) -> None:
    x = np.random.default_rng(2).standard_normal((16, 4)).astype(np.float32)
    tc = triton.InferenceServerClient(server.url.split("://", 1)[1])
    try:
        inp = triton.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=True)
        out = triton.InferRequestedOutput("y", binary_data=True)
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        for version in ("1", "prod"):
            res = tc.infer(tiny_model, [inp], model_version=version, outputs=[out], headers=headers)
            expected = res.as_numpy("y")
            ours = admin.predict(f"{tiny_model}:1" if version == "1" else f"{tiny_model}@{version}", x)["y"]
            assert ours.dtype == expected.dtype and ours.shape == expected.shape
            assert ours.tobytes() == expected.tobytes()
    finally:
        tc.close()


def test_multi_input_needs_a_dict(admin: depot.Client, model_name: str) -> None:
    v = admin.push(FIXTURES / "multi_io.onnx", model_name)
    md = admin.model_metadata(f"{model_name}:{v.version}")
    assert len(md.inputs) > 1
    with pytest.raises(ValueError, match="pass a dict"):
        admin.predict(f"{model_name}:{v.version}", np.zeros((1, 1)))
    inputs: dict[str, Any] = {}
    for t in md.inputs:
        shape = [1 if d < 0 else d for d in t.shape]
        if t.datatype == "BYTES":
            inputs[t.name] = np.array(["a"] * int(np.prod(shape)), dtype=object).reshape(shape)
        else:
            inputs[t.name] = np.ones(shape)
    out = admin.predict(f"{model_name}:{v.version}", inputs)
    assert [o.name for o in md.outputs] == list(out)


def _identity_model(elem_type: int) -> bytes:
    x = helper.make_tensor_value_info("x", elem_type, ["n", 3])
    y = helper.make_tensor_value_info("y", elem_type, ["n", 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


CASES = [
    ("FP32", TensorProto.FLOAT, np.array([[1.5, -2.25, 3e38]] * 2, dtype=np.float32)),
    ("FP64", TensorProto.DOUBLE, np.array([[1e-300, -2.5, np.pi]] * 2)),
    ("INT64", TensorProto.INT64, np.array([[2**62, -(2**62), 0]] * 2, dtype=np.int64)),
    ("INT32", TensorProto.INT32, np.array([[2**30, -(2**30), 7]] * 2, dtype=np.int32)),
    ("INT16", TensorProto.INT16, np.array([[32767, -32768, 1]] * 2, dtype=np.int16)),
    ("INT8", TensorProto.INT8, np.array([[127, -128, 0]] * 2, dtype=np.int8)),
    ("UINT8", TensorProto.UINT8, np.array([[255, 0, 9]] * 2, dtype=np.uint8)),
    ("BOOL", TensorProto.BOOL, np.array([[True, False, True], [False, False, True]])),
    ("BYTES", TensorProto.STRING, np.array([[b"a", b"", "h\u00e9llo".encode()], [b"xyz", b"\x01\x7f", b"q"]], dtype=object)),
]


@pytest.mark.parametrize("datatype,elem_type,value", CASES, ids=[c[0] for c in CASES])
def test_datatypes_round_trip(
    admin: depot.Client, model_name: str, tmp_path: Path, datatype: str, elem_type: int, value: np.ndarray
) -> None:
    path = tmp_path / "identity.onnx"
    path.write_bytes(_identity_model(elem_type))
    v = admin.push(path, model_name)
    ref = f"{model_name}:{v.version}"
    md = admin.model_metadata(ref)
    assert md.inputs[0].datatype == datatype and md.outputs[0].datatype == datatype
    out = admin.predict(ref, value)["y"]
    assert out.shape == value.shape
    if datatype == "BYTES":
        assert out.dtype == object and out.tolist() == value.tolist()
    else:
        assert out.dtype == value.dtype
        np.testing.assert_array_equal(out, value)


def test_metadata_is_cached_per_ref(admin: depot.Client, tiny_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = f"{tiny_model}:1"
    admin.predict(ref, np.zeros((1, 4)))
    calls: list[str] = []
    real = admin._json

    def counting(method: str, path: str, **kw: Any) -> Any:
        calls.append(path)
        return real(method, path, **kw)

    monkeypatch.setattr(admin, "_json", counting)
    for _ in range(3):
        admin.predict(ref, np.zeros((1, 4)))
    assert not [c for c in calls if c.startswith("/v2/models") and not c.endswith("/infer")]


def test_bad_input_is_invalid_request(admin: depot.Client, tiny_model: str) -> None:
    with pytest.raises(depot.InvalidRequest) as e:
        admin.predict(f"{tiny_model}:1", np.zeros((2, 5)))
    assert e.value.status == 400 and e.value.code is None and "x" in e.value.message


def test_ref_parsing() -> None:
    assert depot.parse_ref("iris") == ("iris", None)
    assert depot.parse_ref("iris@champion") == ("iris", "champion")
    assert depot.parse_ref("iris:3") == ("iris", "3")
    for bad in ("iris:champion", "a@b@c", "", "x/y"):
        with pytest.raises(ValueError):
            depot.parse_ref(bad)
