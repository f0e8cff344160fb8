"""Where the client's URL and token come from: arguments, environment, then the credentials
file shared with the `depot` command line."""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import stat
import sys
from typing import Any, Mapping

from ._errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_PROFILE = "default"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("DEPOT_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path("~/.config/depot").expanduser()


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """`$DEPOT_CONFIG_DIR/credentials.toml`, by default `~/.config/depot/credentials.toml`."""
    return config_dir(env) / "credentials.toml"


@dataclass(frozen=True)
class Resolved:
    url: str
    token: str | None = field(repr=False)
    profile: str | None
    source: str


def read_profile(path: Path, profile: str) -> dict[str, Any] | None:
    """The `[profiles.<profile>]` table of the credentials file; `None` if the file does not
    exist. Refuses a file that group or others may read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"refusing to read credentials file {path}: it is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); it holds API tokens, so run `chmod 600 {path}`"
        )
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"credentials file {path} is not valid TOML: {e}") from None
    profiles = data.get("profiles")
    if not isinstance(profiles, dict):
        return {}
    table = profiles.get(profile)
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"credentials file {path}: [profiles.{profile}] is not a table")
    return table


def resolve(
    url: str | None,
    token: str | None,
    profile: str | None,
    env: Mapping[str, str] | None = None,
) -> Resolved:
    """Each of URL and token comes from its argument, else its environment variable
    (`DEPOT_URL`, `DEPOT_TOKEN`), else the profile (argument, `DEPOT_PROFILE`, or `default`)
    in the credentials file. A profile named by argument wins over the environment variables
    (naming it is explicit); one named by `DEPOT_PROFILE` or the default profile does not."""
    env = os.environ if env is None else env
    path = credentials_path(env)
    explicit_profile = profile is not None
    profile_name = profile or env.get("DEPOT_PROFILE") or DEFAULT_PROFILE
    sources: list[str] = []

    if explicit_profile:
        table = read_profile(path, profile_name)
        if table is None:
            raise ConfigError(f"profile {profile_name!r} asked for, but there is no credentials file at {path}")
        if not table:
            raise ConfigError(f"credentials file {path} has no [profiles.{profile_name}]")
        url = url or _str(table, "url", path, profile_name)
        token = token or _str(table, "token", path, profile_name)
        sources.append(f"profile {profile_name!r}")
    else:
        if url is None and env.get("DEPOT_URL"):
            url = env["DEPOT_URL"]
            sources.append("DEPOT_URL")
        if token is None and env.get("DEPOT_TOKEN"):
            token = env["DEPOT_TOKEN"]
            sources.append("DEPOT_TOKEN")
        if url is None or token is None:
            table = read_profile(path, profile_name)
            if table:
                if url is None:
                    url = _str(table, "url", path, profile_name)
                if token is None:
                    token = _str(table, "token", path, profile_name)
                sources.append(f"profile {profile_name!r}")
            elif env.get("DEPOT_PROFILE"):
                where = "no credentials file at" if table is None else "no such profile in"
                raise ConfigError(f"DEPOT_PROFILE={profile_name!r}, but {where} {path}")

    if not url:
        raise ConfigError(
            "no Depot URL: pass Client(url=...), set DEPOT_URL, or add "
            f"[profiles.{profile_name}] with url and token to {path}"
        )
    return Resolved(
        url=url.rstrip("/"),
        token=token or None,
        profile=profile_name if any(s.startswith("profile") for s in sources) else None,
        source=", ".join(sources) or "arguments",
    )


def _str(table: Mapping[str, Any], key: str, path: Path, profile: str) -> str | None:
    v = table.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ConfigError(f"credentials file {path}: [profiles.{profile}] {key} must be a string")
    return v
