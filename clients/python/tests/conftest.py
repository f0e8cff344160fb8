"""Fixtures: a real Depot server (the release binary, `DEPOT_BIN` to override) on a fresh
PostgreSQL database and artifact directory, dropped at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

import pytest

import depot

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
PG = os.environ.get("DEPOT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# scripts/test.sh drops every depot_test_* database when it starts; the prefix can be changed
# so that a run beside another one is not cut short.
DB_PREFIX = os.environ.get("DEPOT_TEST_DB_PREFIX", "depot_test_py_")


def depot_bin() -> Path:
    return Path(os.environ.get("DEPOT_BIN", REPO / "target" / "release" / "depot"))


def ort_library() -> str:
    return os.environ.get("DEPOT_RUNTIME__LIBRARY_PATH", str(REPO / ".depot" / "lib" / "libonnxruntime.so.1.31.0"))


@dataclass
class Server:
    url: str
    admin_token: str = field(repr=False)
    database: str
    workdir: Path
    proc: subprocess.Popen[bytes]

    def client(self, token: str | None = None) -> depot.Client:
        return depot.Client(self.url, token if token is not None else self.admin_token)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drop_database(self.database)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self) -> str:
        try:
            return (self.workdir / "stderr.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def psql(sql: str) -> None:
    host_args = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["psql", *host_args, "-qAtc", sql], check=False, capture_output=True, timeout=60)


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(extra_env: dict[str, str] | None = None) -> Server:
    binary = depot_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.exit(f"Depot server binary not found at {binary} (build it with `cargo build --release`, or set DEPOT_BIN)", returncode=3)
    workdir = Path(tempfile.mkdtemp(prefix="depot-pytest-"))
    os.chmod(workdir, 0o700)
    database = DB_PREFIX + secrets.token_hex(6)
    env = dict(os.environ)
    env.update(
        {
            "DEPOT_SERVER__LISTEN": "127.0.0.1:0",
            "DEPOT_GRPC__LISTEN": "127.0.0.1:0",
            "DEPOT_SERVER__WORKERS": "2",
            "DEPOT_DATABASE__URL": f"{PG}/{database}",
            "DEPOT_STORAGE__URL": str(workdir / "artifacts"),
            "DEPOT_RUNTIME__LIBRARY_PATH": ort_library(),
            "DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE": str(workdir / "admin-token"),
            "DEPOT_AUTH__MAX_FAILED_ATTEMPTS": "0",
            "RUST_LOG": "warn",
        }
    )
    env.update(extra_env or {})
    stderr = open(workdir / "stderr.log", "wb")
    proc = subprocess.Popen([str(binary), "serve"], stdout=subprocess.PIPE, stderr=stderr, env=env)
    stderr.close()
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else b""), daemon=True)
    reader.start()
    reader.join(timeout=60)
    text = line[0].decode() if line else ""
    if "listening on " not in text:
        proc.kill()
        proc.wait()
        log = (workdir / "stderr.log").read_text(errors="replace")[-3000:]
        drop_database(database)
        raise RuntimeError(f"Depot did not start (stdout: {text!r}); stderr:\n{log}")
    url = text.split("listening on ", 1)[1].split()[0].rstrip("/")
    token = (workdir / "admin-token").read_text().strip()
    return Server(url=url, admin_token=token, database=database, workdir=workdir, proc=proc)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = start_server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def admin(server: Server) -> Iterator[depot.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="session")
def make_token(admin: depot.Client) -> Callable[..., str]:
    """A new token with one role on every model (or the given pattern)."""

    def make(role: str, principal: str | None = None, models: str = "*") -> str:
        principal = principal or f"{role}-{secrets.token_hex(3)}"
        created = admin.create_token(f"pytest-{principal}", principal, [(role, models)])
        return created.token

    return make


@pytest.fixture
def model_name() -> str:
    return "m-" + secrets.token_hex(4)


@pytest.fixture(scope="session")
def tiny_model(admin: depot.Client) -> str:
    """`tiny` (x FP32 [N,4] -> y FP32 [N,3]), version 1, deployed and aliased `prod`."""
    name = "tiny"
    v = admin.push(FIXTURES / "tiny.onnx", name, description="tiny")
    admin.deploy(name, v.version)
    admin.set_alias(name, "prod", v.version)
    return name


def pytest_report_header(config: Any) -> str:
    return f"depot binary: {depot_bin()}"
