from __future__ import annotations

import os
from pathlib import Path

import pytest

import depot

TOKEN_A = "depot_aaaaaaaaaaaa_" + "a" * 64
TOKEN_B = "depot_bbbbbbbbbbbb_" + "b" * 64


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("DEPOT_URL", "DEPOT_TOKEN", "DEPOT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DEPOT_CONFIG_DIR", str(tmp_path))
    return tmp_path


def write_credentials(directory: Path, mode: int = 0o600) -> Path:
    path = directory / "credentials.toml"
    path.write_text(
        f"""
[profiles.default]
url = "http://default.example:8080/"
token = "{TOKEN_A}"

[profiles.staging]
url = "http://staging.example:8080"
token = "{TOKEN_B}"
"""
    )
    os.chmod(path, mode)
    return path


def token_of(c: depot.Client) -> str:
    return c._session.headers["Authorization"].removeprefix("Bearer ")  # type: ignore[union-attr]


def test_explicit_arguments_win(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_credentials(config_dir)
    monkeypatch.setenv("DEPOT_URL", "http://env.example")
    c = depot.Client("http://arg.example", TOKEN_B)
    assert c.url == "http://arg.example" and token_of(c) == TOKEN_B


def test_environment_then_default_profile(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_credentials(config_dir)
    monkeypatch.setenv("DEPOT_URL", "http://env.example")
    c = depot.Client()  # URL from the environment, token from the default profile
    assert c.url == "http://env.example" and token_of(c) == TOKEN_A
    monkeypatch.setenv("DEPOT_TOKEN", TOKEN_B)
    assert token_of(depot.Client()) == TOKEN_B


def test_default_profile(config_dir: Path) -> None:
    write_credentials(config_dir)
    c = depot.Client()
    assert c.url == "http://default.example:8080" and token_of(c) == TOKEN_A and c.profile == "default"


def test_named_profile(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_credentials(config_dir)
    c = depot.Client(profile="staging")
    assert c.url == "http://staging.example:8080" and token_of(c) == TOKEN_B
    monkeypatch.setenv("DEPOT_PROFILE", "staging")
    assert depot.Client().url == "http://staging.example:8080"
    with pytest.raises(depot.ConfigError, match=r"no \[profiles.prod\]"):
        depot.Client(profile="prod")


def test_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DEPOT_URL", "DEPOT_TOKEN", "DEPOT_PROFILE", "DEPOT_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".config" / "depot").mkdir(parents=True)
    write_credentials(tmp_path / ".config" / "depot")
    assert depot.Client().url == "http://default.example:8080"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_refuses_a_file_others_can_read(config_dir: Path, mode: int) -> None:
    path = write_credentials(config_dir, mode)
    with pytest.raises(depot.ConfigError) as e:
        depot.Client()
    message = str(e.value)
    assert "group or others" in message and str(path) in message and "chmod 600" in message
    assert TOKEN_A not in message


def test_no_configuration(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(depot.ConfigError, match="no Depot URL"):
        depot.Client()
    with pytest.raises(depot.ConfigError, match="no credentials file"):
        depot.Client(profile="staging")
    monkeypatch.setenv("DEPOT_PROFILE", "staging")
    with pytest.raises(depot.ConfigError, match="DEPOT_PROFILE"):
        depot.Client()


def test_invalid_toml(config_dir: Path) -> None:
    path = config_dir / "credentials.toml"
    path.write_text("[profiles.default\nurl=")
    os.chmod(path, 0o600)
    with pytest.raises(depot.ConfigError, match="not valid TOML"):
        depot.Client()


def test_token_never_shown(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = depot.Client("http://x.example", TOKEN_A)
    print(c, repr(c), str(c))
    assert TOKEN_A not in capsys.readouterr().out
    assert TOKEN_A not in repr(vars(c).get("_config", ""))
    created = depot.CreatedToken(info=None, token=TOKEN_A)  # type: ignore[arg-type]
    assert TOKEN_A not in repr(created)
