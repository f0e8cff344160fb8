from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import depot

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


def test_models_and_versions(admin: depot.Client, model_name: str, tmp_path: Path) -> None:
    m = admin.create_model(model_name, description="first", tags=["a"])
    assert isinstance(m, depot.Model) and m.version_count == 0 and isinstance(m.created_at, datetime)
    assert m.latest_version is None
    assert admin.update_model(model_name, description="second", tags=["b"]).tags == ["b"]
    assert model_name in [x.name for x in admin.list_models(prefix=model_name[:4])]
    assert [x.name for x in admin.list_models(tag="b") if x.name == model_name] == [model_name]

    v1 = admin.push(FIXTURES / "tiny.onnx", model_name, create_model=False, framework="onnx")
    v2 = admin.push(FIXTURES / "mlp.onnx", model_name, tags=["big"], reason="bigger")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.signature is not None and v1.signature.inputs[0].name == "x"
    assert v1.signature.inputs[0].shape == [-1, 4] and v1.signature.inputs[0].datatype == "FP32"
    assert v1.digest.startswith("sha256:") and v1.size_bytes == (FIXTURES / "tiny.onnx").stat().st_size
    assert v1.metadata.framework == "onnx"
    assert [v.version for v in admin.list_versions(model_name)] == [2, 1]
    assert [v.version for v in admin.list_versions(model_name, order="asc", limit=1)] == [1]
    assert admin.get_version(model_name, 2).tags == ["big"]
    updated = admin.update_version(model_name, 1, description="tiny one", metadata={"metrics": {"f1": 0.5}})
    assert updated.description == "tiny one" and updated.metadata.metrics == {"f1": 0.5}
    batched = admin.update_version(model_name, 1, batching={"max_batch_size": 8, "max_queue_delay_ms": 1})
    assert batched.batching == depot.Batching(8, 1)
    assert admin.update_version(model_name, 1, batching=None).batching is None
    assert admin.get_model(model_name).version_count == 2

    assert admin.download(model_name, 1, tmp_path / "a.onnx").read_bytes() == (FIXTURES / "tiny.onnx").read_bytes()

    admin.delete_version(model_name, 2)
    with pytest.raises(depot.NotFound):
        admin.get_version(model_name, 2)
    with pytest.raises(depot.Conflict):
        admin.delete_model(model_name)  # has versions, no cascade
    admin.delete_model(model_name, cascade=True)
    with pytest.raises(depot.NotFound) as e:
        admin.get_model(model_name)
    assert e.value.code == "model_not_found"


def test_aliases_deployments_rollback_history_audit(admin: depot.Client, model_name: str) -> None:
    for _ in range(3):
        admin.push(FIXTURES / "tiny.onnx", model_name)
    a = admin.set_alias(model_name, "champion", 2, reason="best")
    assert isinstance(a, depot.Alias) and a.version == 2
    assert admin.get_alias(model_name, "champion").version == 2
    assert [x.alias for x in admin.list_aliases(model_name)] == ["champion"]
    assert admin.infer(f"{model_name}@champion", np.zeros((1, 4))).served_by == f"{model_name}/2"

    d1 = admin.deploy(model_name, 1, reason="first")
    assert isinstance(d1, depot.Deployment) and d1.version == 1 and d1.canary is None
    d3 = admin.deploy(model_name, 3, reason="third")
    assert isinstance(d3, depot.Deployment) and admin.get_deployment(model_name).version == 3
    assert admin.infer(model_name, np.zeros((1, 4))).served_by == f"{model_name}/3"

    back = admin.rollback(model_name, reason="bad")
    assert isinstance(back, depot.Deployment) and back.version == 1
    named = admin.rollback(model_name, 2)
    assert isinstance(named, depot.Deployment) and named.version == 2

    canary = admin.set_canary(model_name, 3, 10)
    assert isinstance(canary, depot.Deployment) and canary.canary == depot.Canary(3, 10)
    assert admin.abort_canary(model_name).canary is None

    history = admin.history(model_name)
    assert all(isinstance(h, depot.HistoryEntry) for h in history)
    deploys = [(h.action, h.from_version, h.to_version, h.reason) for h in history if h.action.startswith("deployment.")]
    assert ("deployment.deploy", None, 1, "first") in deploys
    assert ("deployment.deploy", 1, 3, "third") in deploys
    assert any(a == "deployment.rollback" and (f, t) == (3, 1) and r == "bad" for a, f, t, r in deploys)
    assert history[0].id > history[-1].id  # newest first
    assert len(admin.history(model_name, limit=2)) == 2

    assert admin.delete_alias(model_name, "champion") is None
    with pytest.raises(depot.NotFound):
        admin.get_alias(model_name, "champion")

    audit = admin.audit(model=model_name, limit=None)
    assert all(isinstance(e, depot.AuditEntry) and e.model == model_name for e in audit)
    actions = {e.action for e in audit}
    assert {"model.create", "version.create", "deployment.deploy", "alias.set"} <= actions, actions
    assert all(e.actor == "admin" for e in audit)
    assert len(admin.audit(limit=3)) == 3

    assert admin.undeploy(model_name) is None
    with pytest.raises(depot.NotFound):
        admin.get_deployment(model_name)


def test_nothing_to_roll_back_is_conflict(admin: depot.Client, model_name: str) -> None:
    admin.push(FIXTURES / "tiny.onnx", model_name)
    admin.deploy(model_name, 1)
    with pytest.raises(depot.Conflict) as e:
        admin.rollback(model_name)
    assert e.value.code == "nothing_to_roll_back" and e.value.status == 409


def test_pending_change_on_protected_deployment(
    admin: depot.Client, server: Any, make_token: Callable[..., str], model_name: str
) -> None:
    admin.push(FIXTURES / "tiny.onnx", model_name)
    admin.push(FIXTURES / "tiny.onnx", model_name)
    admin.deploy(model_name, 1)
    p = admin.set_protection(model_name, deployment=True, require_approval=True)
    assert p == depot.Protection(deployment=True, require_approval=True, aliases=[])
    assert admin.get_protection(model_name) == p

    with server.client(make_token("deployer")) as deployer:
        change = deployer.deploy(model_name, 2, reason="needs a second pair of eyes")
    assert isinstance(change, depot.PendingChange)
    assert change.pending and change.state == "pending" and change.version == 2 and change.model == model_name
    assert change.kind and change.proposed_by.startswith("deployer-")
    assert admin.get_deployment(model_name).version == 1  # nothing changed yet
    assert change.id in [c.id for c in admin.list_approvals(model=model_name)]
    assert admin.get_approval(change.id).state == "pending"

    decided = admin.approve(change.id, reason="looks fine")
    assert isinstance(decided, depot.PendingChange) and decided.state != "pending" and decided.decided_by == "admin"
    assert admin.get_deployment(model_name).version == 2
    with pytest.raises(depot.Conflict):  # no longer pending
        admin.reject(change.id)


def test_tokens(admin: depot.Client, server: Any) -> None:
    created = admin.create_token("reader-ci", "ci", [depot.Grant("reader", "*")])
    assert created.token.startswith("depot_") and created.token not in repr(created)
    assert created.info.principal == "ci" and created.info.grants == [depot.Grant("reader", "*")]
    with server.client(created.token) as ci:
        who = ci.whoami()
        assert who.principal == "ci" and who.token == created.info.id
    assert created.info.id in [t.id for t in admin.list_tokens()]
    revoked = admin.revoke_token(created.info.id)
    assert revoked.revoked_at is not None
