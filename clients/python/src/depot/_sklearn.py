"""Converting a fitted scikit-learn estimator or Pipeline to ONNX with skl2onnx, checked
against the estimator's own predictions before anything is pushed. Needs the `[sklearn]`
extra (scikit-learn, skl2onnx, onnx, onnxruntime)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import threading
from typing import Any, Iterator

import numpy as np
import numpy.typing as npt

from ._errors import ConversionError

# Classifier probabilities: the ONNX model's may differ from the estimator's by this much.
PROBA_ATOL = 1e-4
# Regressors and transformers (float32 in ONNX against float64 in scikit-learn).
VALUE_RTOL = 1e-3
VALUE_ATOL = 1e-4


def is_sklearn_estimator(obj: Any) -> bool:
    """Whether `obj` is a scikit-learn estimator (a Pipeline included), without importing
    scikit-learn unless it is already imported."""
    import sys

    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(obj, base.BaseEstimator):
        return True
    return type(obj).__module__.split(".")[0] == "sklearn"


@dataclass
class Converted:
    onnx_bytes: bytes
    parameters: dict[str, Any]


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _bools_as_ints() -> Iterator[None]:
    """skl2onnx 1.19 passes Python bools for the tree ensembles' INTS attributes, which
    onnx 1.19 refuses ("Expected an int, got a boolean"); turn them into ints during the
    conversion only."""
    from onnx import helper

    original = helper.make_attribute

    def make_attribute(key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
            value = [int(v) for v in value]
        return original(key, value, *args, **kwargs)

    with _PATCH_LOCK:
        helper.make_attribute = make_attribute
        try:
            yield
        finally:
            helper.make_attribute = original


def _final_estimator(est: Any) -> Any:
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and steps:
        return _final_estimator(steps[-1][1])
    return est


def convert(estimator: Any, sample_input: Any) -> Converted:
    """The estimator as ONNX bytes, after checking the ONNX model's predictions on
    `sample_input` against the estimator's own: labels exactly and probabilities within
    1e-4 for a classifier, values within rtol 1e-3 / atol 1e-4 otherwise."""
    try:
        import onnx
        import onnxruntime as ort
        import skl2onnx
        import sklearn
        from skl2onnx import to_onnx
    except ImportError as e:
        raise ConversionError(
            f"pushing a scikit-learn estimator needs the [sklearn] extra "
            f"(pip install 'depot-client[sklearn]'): {e}"
        ) from None

    if sample_input is None:
        raise ConversionError(
            "pushing a scikit-learn estimator needs sample_input=: a few rows of the input it "
            "was trained on, to infer the ONNX input type and check the converted model"
        )
    if hasattr(sample_input, "dtypes"):
        raise ConversionError("sample_input must be a NumPy array (DataFrames are not supported: pass df.to_numpy())")
    sample = np.asarray(sample_input)
    if sample.ndim != 2 or sample.shape[0] == 0:
        raise ConversionError(f"sample_input must be a non-empty 2-D array of rows, not shape {sample.shape}")
    final = _final_estimator(estimator)
    is_classifier = getattr(final, "_estimator_type", None) == "classifier" or hasattr(final, "classes_")
    options: dict[Any, Any] | None = {id(final): {"zipmap": False}} if is_classifier else None

    # Candidates, first passing the check wins: float32 all along (what most ONNX converters and
    # runtimes handle best); for a Pipeline, float64 preprocessing and a cast to float32 before
    # the final estimator (what scikit-learn itself does before a tree: tree thresholds then
    # compare exactly as in scikit-learn); float64 all along.
    candidates: list[tuple[str, Any, npt.NDArray[Any]]] = []
    if sample.dtype.kind in "fiub":
        candidates.append(("float32", estimator, sample.astype(np.float32)))
        steps = getattr(estimator, "steps", None)
        if isinstance(steps, list) and len(steps) > 1:
            try:
                from skl2onnx.sklapi import CastTransformer
                from sklearn.pipeline import Pipeline

                cast = CastTransformer(dtype=np.float32).fit(sample.astype(np.float64))
                with_cast = Pipeline([*steps[:-1], ("depot_cast_float32", cast), steps[-1]])
                candidates.append(("float64, cast to float32 before the final estimator", with_cast, sample.astype(np.float64)))
            except Exception:  # pragma: no cover - an old skl2onnx without CastTransformer
                pass
        candidates.append(("float64", estimator, sample.astype(np.float64)))
    else:
        candidates.append((str(sample.dtype), estimator, sample))

    first_error: ConversionError | None = None
    for label, to_convert, x in candidates:
        try:
            onnx_bytes = _convert_and_check(to_onnx, ort, estimator, to_convert, sample, x, options, is_classifier)
        except ConversionError as e:
            first_error = first_error or e
            continue
        break
    else:
        assert first_error is not None
        raise first_error

    parameters: dict[str, Any] = {
        "estimator": type(estimator).__name__,
        "sklearn_version": sklearn.__version__,
        "skl2onnx_version": skl2onnx.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "onnx_conversion": label,
    }
    if type(final) is not type(estimator):
        parameters["final_estimator"] = type(final).__name__
    return Converted(onnx_bytes=onnx_bytes, parameters=parameters)


def _convert_and_check(
    to_onnx: Any,
    ort: Any,
    estimator: Any,
    to_convert: Any,
    sample: npt.NDArray[Any],
    x: npt.NDArray[Any],
    options: dict[Any, Any] | None,
    is_classifier: bool,
) -> bytes:
    try:
        with _bools_as_ints():
            model = to_onnx(to_convert, x[:1], options=options)
    except Exception as e:  # skl2onnx raises many kinds (MissingShapeCalculator, RuntimeError, ...)
        raise ConversionError(
            f"skl2onnx cannot convert {type(estimator).__name__}: {type(e).__name__}: {str(e)[:500]}"
        ) from e
    onnx_bytes: bytes = model.SerializeToString()
    try:
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        output_names = [o.name for o in session.get_outputs()]
        results = session.run(None, {input_name: x})
    except Exception as e:
        raise ConversionError(f"the converted ONNX model does not run in ONNX Runtime: {e}") from e
    # The estimator's own predictions on the sample as given.
    check_predictions(estimator, sample, dict(zip(output_names, results)), is_classifier)
    return onnx_bytes


def check_predictions(estimator: Any, x: npt.NDArray[Any], onnx_out: dict[str, Any], is_classifier: bool) -> None:
    """Refuse (ConversionError) when the ONNX model's outputs differ from the estimator's."""
    if is_classifier:
        expected = np.asarray(estimator.predict(x))
        got = np.asarray(onnx_out.get("label", next(iter(onnx_out.values()))))
        if got.shape != expected.shape or not np.array_equal(got.astype(expected.dtype), expected):
            bad = int(np.sum(got.reshape(expected.shape) != expected)) if got.size == expected.size else got.size
            raise ConversionError(
                f"the ONNX model's labels differ from {type(estimator).__name__}.predict on "
                f"{bad} of {len(expected)} sample rows; not pushed"
            )
        if hasattr(estimator, "predict_proba") and "probabilities" in onnx_out:
            proba = np.asarray(estimator.predict_proba(x))
            got_p = np.asarray(onnx_out["probabilities"])
            if got_p.shape != proba.shape:
                raise ConversionError(
                    f"the ONNX model's probabilities have shape {got_p.shape}, predict_proba {proba.shape}; not pushed"
                )
            diff = float(np.max(np.abs(got_p - proba))) if proba.size else 0.0
            if diff > PROBA_ATOL:
                raise ConversionError(
                    f"the ONNX model's probabilities differ from predict_proba by up to {diff:.3g} "
                    f"(tolerance {PROBA_ATOL}); not pushed"
                )
        return
    if hasattr(estimator, "predict"):
        expected = np.asarray(estimator.predict(x), dtype=np.float64)
    else:
        expected = np.asarray(estimator.transform(x), dtype=np.float64)
    got_v = np.asarray(next(iter(onnx_out.values())), dtype=np.float64)
    if got_v.size != expected.size:
        raise ConversionError(f"the ONNX model's output has shape {got_v.shape}, the estimator's {expected.shape}; not pushed")
    got_v = got_v.reshape(expected.shape)
    if not np.allclose(got_v, expected, rtol=VALUE_RTOL, atol=VALUE_ATOL):
        diff = float(np.max(np.abs(got_v - expected)))
        raise ConversionError(
            f"the ONNX model's predictions differ from {type(estimator).__name__}'s by up to {diff:.3g} "
            f"(rtol {VALUE_RTOL}, atol {VALUE_ATOL}); not pushed"
        )
