#!/usr/bin/env python3
"""Writes tests/fixtures/expected/<model>.json: reference outputs of Python ONNX Runtime.

Run with the project's venv (scripts/setup-python.sh creates it), after make-fixtures.py:

    .venv/bin/python scripts/make-expected.py

For each servable ONNX fixture this builds deterministic inputs, runs them through the
onnxruntime package (the same 1.31.0 that depot-runtime loads) and records:

    {
      "model": "tiny.onnx",
      "signature": {"inputs": [TensorSpec...], "outputs": [TensorSpec...]},
      "inputs":  {"x": {"datatype": "FP32", "shape": [3, 4], "data": [...]}},
      "outputs": {"y": {"datatype": "FP32", "shape": [3, 3], "data": [...]}}
    }

tests/fixtures/ has no model with string tensors, so this script also writes one beside its
outputs, expected/strings.onnx (text [n] -> same [n], pair [n, 2] and is_depot [n], a BOOL
saying which strings equal "Depot"), to check BYTES end to end.

The signature is read from the ONNX graph (initializers are not inputs) in the JSON form of
depot_domain::Signature, so the Rust test can load the model without another crate. Floats are
written with Python's shortest round-trip repr, so FP32 values survive the trip exactly. The
crates/runtime integration tests feed the same inputs to depot-runtime and compare.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUT = FIXTURES / "expected"

# ONNX element type -> (Depot datatype, ONNX type name, numpy dtype)
TYPES = {
    onnx.TensorProto.BOOL: ("BOOL", "bool", np.bool_),
    onnx.TensorProto.UINT8: ("UINT8", "uint8", np.uint8),
    onnx.TensorProto.UINT16: ("UINT16", "uint16", np.uint16),
    onnx.TensorProto.UINT32: ("UINT32", "uint32", np.uint32),
    onnx.TensorProto.UINT64: ("UINT64", "uint64", np.uint64),
    onnx.TensorProto.INT8: ("INT8", "int8", np.int8),
    onnx.TensorProto.INT16: ("INT16", "int16", np.int16),
    onnx.TensorProto.INT32: ("INT32", "int32", np.int32),
    onnx.TensorProto.INT64: ("INT64", "int64", np.int64),
    onnx.TensorProto.FLOAT: ("FP32", "float", np.float32),
    onnx.TensorProto.DOUBLE: ("FP64", "double", np.float64),
    onnx.TensorProto.STRING: ("BYTES", "string", np.object_),
}
DATATYPE_OF_NUMPY = {np.dtype(v[2]).name: v[0] for v in TYPES.values() if v[2] is not np.object_}

# Each servable fixture and the size of its dynamic dimensions in the request.
MODELS = {
    "tiny.onnx": {"batch": 3},
    "mlp.onnx": {"batch": 2},
    "multi_io.onnx": {"n": 3, None: 2},
    "legacy_ir3.onnx": {"N": 2},
    "sklearn_logreg.onnx": {None: 6},
    "sklearn_forest.onnx": {None: 6},
    "expected/strings.onnx": {"n": 4},
}

STRINGS = ["hello", "Depot", "", "grüße 42"]


def strings_model() -> bytes:
    """A model with string input and outputs (opset 19: Equal on strings); deterministic bytes."""
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["text"], ["same"], name="identity"),
            helper.make_node("Unsqueeze", ["text", "axis1"], ["column"], name="column"),
            helper.make_node("Concat", ["column", "column"], ["pair"], name="pair", axis=1),
            helper.make_node("Equal", ["text", "depot"], ["is_depot"], name="is_depot"),
        ],
        "strings",
        [helper.make_tensor_value_info("text", onnx.TensorProto.STRING, ["n"])],
        [
            helper.make_tensor_value_info("same", onnx.TensorProto.STRING, ["n"]),
            helper.make_tensor_value_info("pair", onnx.TensorProto.STRING, ["n", 2]),
            helper.make_tensor_value_info("is_depot", onnx.TensorProto.BOOL, ["n"]),
        ],
        initializer=[
            helper.make_tensor("axis1", onnx.TensorProto.INT64, [1], [1]),
            helper.make_tensor("depot", onnx.TensorProto.STRING, [], [b"Depot"]),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 19)], producer_name="depot-make-expected", ir_version=9
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def spec(value: onnx.ValueInfoProto) -> dict:
    tensor = value.type.tensor_type
    datatype, onnx_name, _ = TYPES[tensor.elem_type]
    shape, names = [], []
    for dim in tensor.shape.dim:
        if dim.HasField("dim_value"):
            shape.append(dim.dim_value)
            names.append(None)
        else:
            shape.append(-1)
            names.append(dim.dim_param or None)
    return {
        "name": value.name,
        "kind": "tensor",
        "datatype": datatype,
        "shape": shape,
        "dim_names": names,
        "type_name": f"tensor({onnx_name})",
    }


def signature(model: onnx.ModelProto) -> dict:
    initializers = {i.name for i in model.graph.initializer}
    return {
        "inputs": [spec(v) for v in model.graph.input if v.name not in initializers],
        "outputs": [spec(v) for v in model.graph.output],
    }


def make_input(s: dict, dims: dict, rng: np.random.Generator, iris: np.ndarray) -> np.ndarray:
    shape = [d if d >= 0 else dims[name] for d, name in zip(s["shape"], s["dim_names"])]
    datatype = s["datatype"]
    if datatype == "FP32" and shape[-1:] == [4] and s["name"] == "X":
        # The scikit-learn models: real iris rows, spread over the three classes.
        return iris[np.linspace(0, len(iris) - 1, shape[0]).astype(int)]
    if datatype in ("FP32", "FP64"):
        dtype = np.float32 if datatype == "FP32" else np.float64
        return rng.uniform(-2.0, 2.0, size=shape).astype(dtype)
    if datatype == "BYTES":
        return np.array(STRINGS[: shape[0]], dtype=np.object_).reshape(shape)
    if datatype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if datatype.startswith(("INT", "UINT")):
        np_type = next(v[2] for v in TYPES.values() if v[0] == datatype)
        return rng.integers(0, 100, size=shape).astype(np_type)
    raise ValueError(f"no input generator for {datatype}")


def encode(array: np.ndarray) -> dict:
    """Flat row-major data; BYTES as UTF-8 strings."""
    datatype = "BYTES" if array.dtype == np.object_ else DATATYPE_OF_NUMPY[array.dtype.name]
    flat = array.reshape(-1)
    if datatype == "BYTES":
        data = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    elif datatype == "BOOL":
        data = [bool(v) for v in flat]
    elif datatype in ("FP32", "FP64"):
        data = [float(v) for v in flat]
    else:
        data = [int(v) for v in flat]
    return {"datatype": datatype, "shape": list(array.shape), "data": data}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "strings.onnx").write_bytes(strings_model())
    from sklearn.datasets import load_iris

    iris = load_iris().data.astype(np.float32)
    for index, (file, dims) in enumerate(sorted(MODELS.items())):
        path = FIXTURES / file
        model = onnx.load(str(path))
        sig = signature(model)
        rng = np.random.default_rng(1000 + index)
        inputs = {s["name"]: make_input(s, dims, rng, iris) for s in sig["inputs"]}
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [s["name"] for s in sig["outputs"]]
        results = session.run(names, inputs)
        record = {
            "model": file,
            "signature": sig,
            "inputs": {name: encode(value) for name, value in inputs.items()},
            "outputs": {name: encode(np.asarray(value)) for name, value in zip(names, results)},
        }
        target = OUT / (Path(file).stem + ".json")
        target.write_text(json.dumps(record, indent=1) + "\n")
        print(f"{target.relative_to(ROOT)}: {', '.join(f'{n}{list(np.shape(v))}' for n, v in zip(names, results))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
