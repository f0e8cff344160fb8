#!/usr/bin/env python3
"""Writes the small, deterministic model artifacts in tests/fixtures/.

Run with the project's venv (scripts/setup-python.sh creates it):

    .venv/bin/python scripts/make-fixtures.py

Every fixture is generated from fixed seeds and fixed timestamps, so running the script twice
writes identical bytes (with the same versions of onnx, scikit-learn, skl2onnx and joblib).
Each ONNX fixture is loaded back with ONNX Runtime to check that it is a model a runtime accepts,
and the signature ONNX Runtime reports is printed next to each file. tests/fixtures/README.md
lists what each file is for.
"""

from __future__ import annotations

import gzip
import io
import pickle
import sys
import tarfile
import zipfile
from pathlib import Path

import joblib
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"

# Opsets every ONNX Runtime since 1.14 runs; ir_version 8 is the IR that goes with opset 17.
OPSET = 17
IR_VERSION = 8
SKL_OPSETS = {"": OPSET, "ai.onnx.ml": 3}
PRODUCER = "depot-make-fixtures"


def _bools_as_ints(make_attribute):
    """skl2onnx 1.19 passes Python bools for the tree ensembles' INTS attributes, which onnx 1.19 refuses."""

    def wrapper(key, value, *args, **kwargs):
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
            value = [int(v) for v in value]
        return make_attribute(key, value, *args, **kwargs)

    return wrapper


helper.make_attribute = _bools_as_ints(helper.make_attribute)


def write(name: str, data: bytes) -> None:
    path = OUT / name
    path.write_bytes(data)
    print(f"{name:28} {len(data):>9} bytes")


def save_onnx(name: str, model: onnx.ModelProto) -> bytes:
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString(deterministic=True)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    write(name, data)
    for kind, values in (("in ", session.get_inputs()), ("out", session.get_outputs())):
        for v in values:
            print(f"    {kind} {v.name}: {v.type} {v.shape}")
    return data


def make_model(graph: onnx.GraphProto, opset: int = OPSET, ir_version: int = IR_VERSION) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name=PRODUCER,
        producer_version="1",
    )
    model.ir_version = ir_version
    return model


def tiny() -> onnx.ModelProto:
    """x: float[batch,4] -> Gemm(4->3) -> Softmax -> y: float[batch,3]."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "W", "B"], ["logits"], name="gemm"),
            helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    return make_model(graph)


def mlp() -> onnx.ModelProto:
    """x: float[batch,784] -> 512 -> Relu -> 512 -> Relu -> logits: float[batch,10]."""
    rng = np.random.default_rng(11)
    sizes = [784, 512, 512, 10]
    nodes, inits = [], []
    current = "x"
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        scale = np.float32(1.0 / np.sqrt(fan_in))
        inits.append(numpy_helper.from_array((rng.standard_normal((fan_in, fan_out)) * scale).astype(np.float32), f"W{i}"))
        inits.append(numpy_helper.from_array(np.zeros(fan_out, dtype=np.float32), f"B{i}"))
        last = i == len(sizes) - 2
        out = "logits" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"B{i}"], [out if last else f"z{i}"], name=f"gemm{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [f"z{i}"], [out], name=f"relu{i}"))
        current = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    return make_model(graph)


def multi_io() -> onnx.ModelProto:
    """Three inputs of three element types, two outputs of two element types.

    total = Cast<double>(counts) + weights;  inverted = Not(mask)
    """
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["counts"], ["counts_f64"], name="cast", to=TensorProto.DOUBLE),
            helper.make_node("Add", ["counts_f64", "weights"], ["total"], name="add"),
            helper.make_node("Not", ["mask"], ["inverted"], name="not"),
        ],
        "multi_io",
        [
            helper.make_tensor_value_info("counts", TensorProto.INT64, ["n", 3]),
            helper.make_tensor_value_info("weights", TensorProto.DOUBLE, ["n", 3]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, [None, 2]),
        ],
        [
            helper.make_tensor_value_info("total", TensorProto.DOUBLE, ["n", 3]),
            helper.make_tensor_value_info("inverted", TensorProto.BOOL, [None, 2]),
        ],
    )
    return make_model(graph)


def legacy_ir3() -> onnx.ModelProto:
    """IR version 3: the weight W is an initializer *and* a graph input, as exporters did before IR 4."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")],
        "legacy",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [2, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    return make_model(graph, opset=8, ir_version=3)


def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x.astype(np.float32), y


def logreg() -> LogisticRegression:
    x, y = iris()
    return LogisticRegression(max_iter=500).fit(x, y)


def forest() -> RandomForestClassifier:
    x, y = iris()
    return RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y)


def sklearn_onnx(estimator, zipmap: bool) -> onnx.ModelProto:
    x, _ = iris()
    model = to_onnx(
        estimator,
        x[:1],
        options={id(estimator): {"zipmap": zipmap}},
        target_opset=SKL_OPSETS,
    )
    model.producer_version = "1"
    # skl2onnx collects the opsets in a set: sort them so the bytes do not depend on PYTHONHASHSEED.
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    return model


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream without seek(), as a socket or pipe would be."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.buf.write(data)


def streamed_zip(files: dict[str, bytes]) -> bytes:
    """A zip written to an unseekable stream: each entry's sizes follow its data (flag bit 3)."""
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return out.buf.getvalue()


def deterministic_tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1577836800
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def graph_span(data: bytes) -> tuple[int, int]:
    """Byte range of the graph (ModelProto field 7) payload, found by walking the top-level fields."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(data):
        tag = varint()
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            varint()
        elif wire == 2:
            length = varint()
            if field == 7:
                return pos, pos + length
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wire}")
    raise ValueError("no graph")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)

    tiny_bytes = save_onnx("tiny.onnx", tiny())
    save_onnx("mlp.onnx", mlp())
    save_onnx("multi_io.onnx", multi_io())
    save_onnx("legacy_ir3.onnx", legacy_ir3())
    save_onnx("sklearn_logreg.onnx", sklearn_onnx(logreg(), zipmap=False))
    save_onnx("sklearn_forest.onnx", sklearn_onnx(forest(), zipmap=False))
    save_onnx("zipmap.onnx", sklearn_onnx(logreg(), zipmap=True))

    start, end = graph_span(tiny_bytes)
    write("corrupt.onnx", tiny_bytes[: (start + end) // 2])

    write("model.pkl", pickle.dumps({"name": "demo", "weights": [0.5, -1.25, 2.0], "bias": 0.1}, protocol=4))

    # joblib writes the file itself; each compressor has its own magic bytes.
    estimator = logreg()
    joblib.dump(estimator, OUT / "model.joblib")
    joblib.dump(estimator, OUT / "model_compressed.joblib", compress=3)
    for method in ("gzip", "bz2", "xz", "lzma"):
        joblib.dump(estimator, OUT / f"model_{method}.joblib", compress=(method, 3))
    for name in ("model.joblib", "model_compressed.joblib", *(f"model_{m}.joblib" for m in ("gzip", "bz2", "xz", "lzma"))):
        print(f"{name:28} {(OUT / name).stat().st_size:>9} bytes")

    saved_model = {
        "my_model/saved_model.pb": b"\x08\x01\x12\x04fake saved_model.pb for tests\n",
        "my_model/variables/variables.index": b"fake variables index\n",
        "my_model/variables/variables.data-00000-of-00001": bytes(range(256)) * 4,
    }
    write("saved_model.zip", deterministic_zip(saved_model))
    # saved_model.pb last, so that finding it means skipping entries whose sizes come after them.
    write("saved_model_streamed.zip", streamed_zip(dict(reversed(saved_model.items()))))
    write("saved_model.tar.gz", deterministic_tar_gz(saved_model))

    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"{'total':28} {total:>9} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
