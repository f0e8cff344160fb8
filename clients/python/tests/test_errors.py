"""Every error class, each from a real answer of the server."""

from __future__ import annotations

from pathlib import Path
import socket
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import depot

from conftest import Server, psql, start_server  # type: ignore[import-not-found]

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


def test_not_found(admin: depot.Client) -> None:
    with pytest.raises(depot.NotFound) as e:
        admin.get_model("no-such-model")
    assert (e.value.status, e.value.code) == (404, "model_not_found")
    assert "no-such-model" in e.value.message and "model_not_found" in str(e.value)
    with pytest.raises(depot.NotFound) as e2:  # /v2: the protocol's {"error"} body
        admin.predict("no-such-model:1", np.zeros((1, 4)))
    assert e2.value.status == 404 and e2.value.code is None and e2.value.message


def test_conflict(admin: depot.Client, model_name: str) -> None:
    admin.create_model(model_name)
    with pytest.raises(depot.Conflict) as e:
        admin.create_model(model_name)
    assert (e.value.status, e.value.code) == (409, "model_exists")


def test_version_not_servable_is_conflict(admin: depot.Client, model_name: str) -> None:
    v = admin.push(FIXTURES / "model.pkl", model_name, allow_pickle=True)
    with pytest.raises(depot.Conflict) as e:
        admin.deploy(model_name, v.version)
    assert (e.value.status, e.value.code) == (409, "version_not_servable")


def test_unauthenticated(server: Server) -> None:
    bad = "depot_000000000000_" + "0" * 64
    for token in (bad, None):
        with depot.Client(server.url, token) as c:
            with pytest.raises(depot.Unauthenticated) as e:
                c.list_models()
            assert (e.value.status, e.value.code) == (401, "unauthenticated")
            # The token never shows in the error.
            assert bad not in str(e.value) and bad not in repr(e.value)


def test_forbidden(server: Server, make_token: Callable[..., str], model_name: str) -> None:
    with server.client(make_token("reader")) as reader:
        with pytest.raises(depot.Forbidden) as e:
            reader.create_model(model_name)
    assert (e.value.status, e.value.code) == (403, "forbidden")


def test_invalid_request(admin: depot.Client) -> None:
    with pytest.raises(depot.InvalidRequest) as e:
        admin.create_model("Not A Valid Name!")
    assert e.value.status == 400 and e.value.code == "invalid_model_name"


def test_payload_too_large(admin: depot.Client, model_name: str) -> None:
    with pytest.raises(depot.PayloadTooLarge) as e:
        admin.create_model(model_name, description="x" * (2 << 20))  # over the 1 MiB JSON limit
    assert (e.value.status, e.value.code) == (413, "payload_too_large")
    assert isinstance(e.value, depot.InvalidRequest)


def test_unsupported_format(admin: depot.Client, model_name: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text, not a model\n" * 100)
    with pytest.raises(depot.UnsupportedFormat) as e:
        admin.push(path, model_name)
    assert (e.value.status, e.value.code) == (415, "unsupported_format")


def test_corrupt_artifact_is_unprocessable(admin: depot.Client, model_name: str) -> None:
    with pytest.raises(depot.Unprocessable) as e:
        admin.push(FIXTURES / "corrupt.onnx", model_name)
    assert (e.value.status, e.value.code) == (422, "corrupt_artifact")


def test_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with depot.Client(f"http://127.0.0.1:{port}", "t") as c:
        with pytest.raises(depot.TransportError):
            c.list_models()


@pytest.fixture
def own_server() -> Iterator[Callable[[dict[str, str]], Server]]:
    """Servers of the test's own (stopped and their databases dropped at the end)."""
    started: list[Server] = []

    def start(env: dict[str, str]) -> Server:
        started.append(start_server(env))
        return started[-1]

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()


def test_too_many_requests(own_server: Callable[[dict[str, str]], Server]) -> None:
    # 429: after too many failed authentications from this address (two per minute here).
    srv = own_server({"DEPOT_AUTH__MAX_FAILED_ATTEMPTS": "2"})
    with depot.Client(srv.url, "depot_000000000000_" + "1" * 64) as bad:
        kinds: list[type[depot.DepotError]] = []
        for _ in range(4):
            with pytest.raises(depot.DepotError) as e:
                bad.list_models()
            kinds.append(type(e.value))
    assert kinds[0] is depot.Unauthenticated and kinds[-1] is depot.TooManyRequests
    assert isinstance(e.value, depot.TooManyRequests) and e.value.status == 429


def test_server_errors(own_server: Callable[[dict[str, str]], Server]) -> None:
    # 5xx: the server's database goes away under it (readiness does not depend on it; the
    # dependency check does).
    srv = own_server({})
    with srv.client() as admin:
        admin.whoami()
        psql(f'DROP DATABASE IF EXISTS "{srv.database}" WITH (FORCE)')
        with pytest.raises(depot.ServerError) as se:
            admin._send("GET", "/healthz/dependencies")
        assert isinstance(se.value, depot.Unavailable) and se.value.status == 503
        with pytest.raises(depot.ServerError) as se2:
            admin.create_model("anything")
        assert se2.value.status is not None and se2.value.status >= 500


def test_error_from_non_json_body() -> None:
    from depot._errors import error_from_response

    e = error_from_response(502, b"<html>bad gateway</html>", "Bad Gateway")
    assert isinstance(e, depot.ServerError) and e.code is None and "bad gateway" in e.message
    assert isinstance(error_from_response(418, b"", "teapot"), depot.InvalidRequest)
