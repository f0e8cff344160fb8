from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import depot

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


def _check_pushed(admin: depot.Client, name: str, est: Any, X: np.ndarray, v: depot.Version) -> None:
    assert v.model == name and v.format == "onnx" and v.servable
    assert v.metadata.framework == "sklearn"
    params = v.metadata.parameters
    for key in ("sklearn_version", "skl2onnx_version", "onnx_version"):
        assert isinstance(params.get(key), str) and params[key]
    assert v.signature is not None and [i.name for i in v.signature.inputs] == ["X"]

    out = admin.predict(f"{name}:{v.version}", X)  # float64 in: cast to the signature's FP32
    assert set(out) == {"label", "probabilities"}
    np.testing.assert_array_equal(out["label"], est.predict(X))
    assert out["probabilities"].shape == (len(X), 3)
    np.testing.assert_allclose(out["probabilities"], est.predict_proba(X), atol=1e-4, rtol=0)


def test_push_logistic_regression(admin: depot.Client, iris: Any, model_name: str) -> None:
    X, y = iris
    est = LogisticRegression(max_iter=500).fit(X, y)
    v = admin.push(
        est,
        model_name,
        sample_input=X,
        description="iris logreg",
        tags=["iris"],
        metrics={"accuracy": float(est.score(X, y))},
        params={"C": 1.0},
        run="run-42",
        commit="abc123",
        dataset="iris",
    )
    assert v.description == "iris logreg" and v.tags == ["iris"]
    assert v.metadata.parameters["C"] == 1.0
    assert v.metadata.parameters["estimator"] == "LogisticRegression"
    assert v.metadata.metrics["accuracy"] == pytest.approx(est.score(X, y))
    assert v.metadata.lineage == depot.Lineage(source_run="run-42", commit="abc123", dataset="iris")
    _check_pushed(admin, model_name, est, X, v)


def test_push_pipeline_scaler_forest(admin: depot.Client, iris: Any, model_name: str) -> None:
    X, y = iris
    est = Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier(n_estimators=25, random_state=0))])
    est.fit(X, y)
    v = admin.push(est, model_name, sample_input=X)
    assert v.metadata.parameters["estimator"] == "Pipeline"
    assert v.metadata.parameters["final_estimator"] == "RandomForestClassifier"
    _check_pushed(admin, model_name, est, X, v)
    # Deployed, the version-less reference serves it.
    admin.deploy(model_name, v.version)
    np.testing.assert_array_equal(admin.predict(model_name, X[:7])["label"], est.predict(X[:7]))


def test_refused_when_predictions_differ(admin: depot.Client, iris: Any, model_name: str) -> None:
    X, y = iris
    est = LogisticRegression(max_iter=500).fit(X, y)
    admin.create_model(model_name)
    real_predict = est.predict
    # The estimator's own predictions no longer match what the ONNX model computes.
    est.predict = lambda x: (real_predict(x) + 1) % 3  # type: ignore[method-assign]
    with pytest.raises(depot.ConversionError, match="labels differ"):
        admin.push(est, model_name, sample_input=X)
    assert admin.list_versions(model_name) == []


def test_refused_when_probabilities_differ(admin: depot.Client, iris: Any, model_name: str) -> None:
    X, y = iris
    est = LogisticRegression(max_iter=500).fit(X, y)
    real = est.predict_proba
    est.predict_proba = lambda x: real(x) + 1e-3  # type: ignore[method-assign]
    with pytest.raises(depot.ConversionError, match="probabilities differ"):
        admin.push(est, model_name, sample_input=X)
    with pytest.raises(depot.NotFound):  # nothing was created either
        admin.get_model(model_name)


def test_refused_unsupported_estimator(admin: depot.Client, model_name: str) -> None:
    X = np.random.default_rng(0).random((20, 2))
    with pytest.raises(depot.ConversionError, match="cannot convert KernelDensity"):
        admin.push(KernelDensity().fit(X), model_name, sample_input=X)


def test_estimator_needs_sample_input(admin: depot.Client, iris: Any, model_name: str) -> None:
    X, y = iris
    with pytest.raises(depot.ConversionError, match="sample_input"):
        admin.push(LogisticRegression(max_iter=500).fit(X, y), model_name)


def test_pickles_refused_unless_allowed(admin: depot.Client, model_name: str) -> None:
    for path in (FIXTURES / "model.pkl", FIXTURES / "model.joblib"):
        with pytest.raises(depot.PickleRefused, match="allow_pickle=True"):
            admin.push(path, model_name)
    with pytest.raises(depot.PickleRefused):
        admin.push({"not": "an estimator"}, model_name)
    with pytest.raises(depot.NotFound):
        admin.get_model(model_name)

    v = admin.push(FIXTURES / "model.pkl", model_name, allow_pickle=True)
    assert v.format == "pickle" and not v.servable
    v2 = admin.push({"weights": [1, 2, 3]}, model_name, allow_pickle=True)
    assert v2.version == v.version + 1 and v2.format == "pickle"
    assert v2.metadata.framework == "pickle"
