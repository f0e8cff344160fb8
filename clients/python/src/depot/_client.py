"""The Depot client: registry calls, pushes and predictions over one connection pool."""

from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
import pickle
import re
import tempfile
import threading
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar, Union
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import _config, _oip
from ._errors import (
    DepotError,
    InvalidRequest,
    PickleRefused,
    TransportError,
    error_from_response,
)
from ._types import (
    Alias,
    AuditEntry,
    CreatedToken,
    Deployment,
    Grant,
    HistoryEntry,
    Model,
    ModelMetadata,
    PendingChange,
    Protection,
    TokenInfo,
    Version,
    WhoAmI,
)
from ._upload import MultipartBody, ProgressArg, progress_callback, sha256_file

__all__ = ["Client", "Prediction", "parse_ref"]

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]
ArrayLike = Any  # anything numpy.asarray takes

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_REF = re.compile(r"^(?P<name>[^@:/]+)(?:(?P<sep>[@:])(?P<target>[^@:/]+))?$")


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`name` (the deployed version), `name@alias` or `name:version` -> (name, version or
    alias, or None for the deployment)."""
    m = _REF.match(ref)
    if not m:
        raise ValueError(f"not a model reference: {ref!r} (expected 'name', 'name@alias' or 'name:version')")
    target = m.group("target")
    if m.group("sep") == ":" and target is not None and not target.isdigit():
        raise ValueError(f"{ref!r}: the version after ':' must be a number (use 'name@alias' for an alias)")
    return m.group("name"), target


@dataclass(frozen=True)
class Prediction:
    """A prediction's outputs and the version that served it (`depot-served-by`)."""

    outputs: dict[str, npt.NDArray[Any]]
    model: str
    version: str
    served_by: str | None


def _seg(s: str | int) -> str:
    return quote(str(s), safe="")


class Client:
    """A client of one Depot server.

    `Client(url=None, token=None, profile=None)`: each of URL and token comes from its argument,
    else `DEPOT_URL` / `DEPOT_TOKEN`, else the profile (`profile=`, `DEPOT_PROFILE`, or
    `default`) in `$DEPOT_CONFIG_DIR/credentials.toml` (default `~/.config/depot/credentials.toml`).
    The token is never printed: not in repr, not in errors.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        profile: str | None = None,
        *,
        timeout: float | None = 60.0,
        pool_size: int = 10,
    ) -> None:
        resolved = _config.resolve(url, token, profile)
        self.url = resolved.url
        self.profile = resolved.profile
        self.timeout = timeout
        self.__token = resolved.token
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = "depot-client-python"
        if self.__token:
            self._session.headers["Authorization"] = f"Bearer {self.__token}"
        # Requests do not read ~/.netrc or proxies' env for every call (costly per call).
        self._session.trust_env = False
        # Predictions use the session's own urllib3 pool directly (see _infer_once).
        self._pool = adapter.poolmanager.connection_from_url(self.url)
        self._base_path = urllib3.util.parse_url(self.url).path or ""
        self._pool_timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._infer_headers = {
            "User-Agent": "depot-client-python",
            "Content-Type": "application/octet-stream",
            "Accept-Encoding": "identity",
        }
        if self.__token:
            self._infer_headers["Authorization"] = f"Bearer {self.__token}"
        self._metadata: dict[str, ModelMetadata] = {}
        self._metadata_lock = threading.Lock()

    def __repr__(self) -> str:
        profile = f", profile={self.profile!r}" if self.profile else ""
        auth = "token set" if self.__token else "no token"
        return f"Client(url={self.url!r}{profile}, {auth})"

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        stream: bool = False,
        timeout: float | None | tuple[float, float | None] = -1.0,
    ) -> requests.Response:
        hdrs: dict[str, str] = dict(headers or {})
        if reason is not None:
            hdrs["x-depot-reason"] = reason
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        try:
            resp = self._session.request(
                method,
                self.url + path,
                params={k: v for k, v in (params or {}).items() if v is not None} or None,
                data=data,
                headers=hdrs,
                stream=stream,
                timeout=self.timeout if timeout == -1.0 else timeout,
            )
        except requests.RequestException as e:
            raise TransportError(f"{method} {self.url}{path} failed: {type(e).__name__}: {e}") from None
        if resp.status_code >= 400:
            body = resp.content
            resp.close()
            raise error_from_response(resp.status_code, body, resp.reason or "")
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._send(method, path, **kw)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def _change(self, method: str, path: str, parse: Callable[[dict[str, Any]], T], **kw: Any) -> T | PendingChange:
        """A change that a protected model may hold for approval: 202 -> PendingChange."""
        resp = self._send(method, path, **kw)
        if resp.status_code == 202:
            return PendingChange.from_json(resp.json())
        return parse(resp.json())

    def _pages(self, path: str, key: str, params: dict[str, Any], limit: int | None) -> Iterable[dict[str, Any]]:
        """Follow `next_cursor` until the end, or until `limit` items."""
        seen = 0
        cursor: str | None = None
        while True:
            page_size = 500 if limit is None else max(1, min(500, limit - seen))
            page = self._json("GET", path, params={**params, "limit": page_size, "cursor": cursor})
            for item in page.get(key, []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- health ------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Whether `/healthz` answers 200."""
        try:
            return self._send("GET", "/healthz").status_code == 200
        except DepotError:
            return False

    def whoami(self) -> WhoAmI:
        return WhoAmI.from_json(self._json("GET", "/v1/whoami"))

    # -- models ------------------------------------------------------------------------------

    def list_models(self, *, prefix: str | None = None, tag: str | None = None, limit: int | None = None) -> list[Model]:
        return [Model.from_json(d) for d in self._pages("/v1/models", "models", {"prefix": prefix, "tag": tag}, limit)]

    def get_model(self, name: str) -> Model:
        return Model.from_json(self._json("GET", f"/v1/models/{_seg(name)}"))

    def create_model(
        self, name: str, *, description: str = "", tags: Sequence[str] = (), reason: str | None = None
    ) -> Model:
        body = {"name": name, "description": description, "tags": list(tags)}
        return Model.from_json(self._json("POST", "/v1/models", json_body=body, reason=reason))

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        reason: str | None = None,
    ) -> Model:
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = list(tags)
        return Model.from_json(self._json("PATCH", f"/v1/models/{_seg(name)}", json_body=body, reason=reason))

    def delete_model(self, name: str, *, cascade: bool = False, reason: str | None = None) -> None:
        params = {"cascade": "true"} if cascade else None
        self._send("DELETE", f"/v1/models/{_seg(name)}", params=params, reason=reason)

    # -- versions ----------------------------------------------------------------------------

    def list_versions(self, model: str, *, order: str = "desc", limit: int | None = None) -> list[Version]:
        path = f"/v1/models/{_seg(model)}/versions"
        return [Version.from_json(d) for d in self._pages(path, "versions", {"order": order}, limit)]

    def get_version(self, model: str, version: int) -> Version:
        return Version.from_json(self._json("GET", f"/v1/models/{_seg(model)}/versions/{int(version)}"))

    def update_version(
        self,
        model: str,
        version: int,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        batching: Mapping[str, int] | None | bool = False,
        reason: str | None = None,
    ) -> Version:
        """Change a version's description, tags, metadata or batching (`batching=None` turns
        batching off; the default leaves it as it is)."""
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = list(tags)
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if batching is not False:
            body["batching"] = None if batching is None or batching is True else dict(batching)
        path = f"/v1/models/{_seg(model)}/versions/{int(version)}"
        return Version.from_json(self._json("PATCH", path, json_body=body, reason=reason))

    def delete_version(self, model: str, version: int, *, reason: str | None = None) -> None:
        self._send("DELETE", f"/v1/models/{_seg(model)}/versions/{int(version)}", reason=reason)

    def download(self, model: str, version: int, dest: PathLike) -> Path:
        """Stream a version's artifact to the file `dest` (never held in memory)."""
        resp = self._send("GET", f"/v1/models/{_seg(model)}/versions/{int(version)}/artifact", stream=True)
        out = Path(dest)
        try:
            with open(out, "wb") as f:
                for chunk in resp.iter_content(chunk_size=1 << 20):
                    f.write(chunk)
        except requests.RequestException as e:
            raise TransportError(f"download of {model} version {version} failed: {e}") from None
        finally:
            resp.close()
        return out

    # -- aliases -----------------------------------------------------------------------------

    def list_aliases(self, model: str) -> list[Alias]:
        page = self._json("GET", f"/v1/models/{_seg(model)}/aliases")
        return [Alias.from_json(d) for d in page.get("aliases", [])]

    def get_alias(self, model: str, alias: str) -> Alias:
        return Alias.from_json(self._json("GET", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}"))

    def set_alias(self, model: str, alias: str, version: int, *, reason: str | None = None) -> Alias | PendingChange:
        """Create or move an alias; a PendingChange if the alias is protected and needs approval."""
        body = {"version": int(version), "reason": reason}
        return self._change("PUT", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}", Alias.from_json, json_body=body)

    def delete_alias(self, model: str, alias: str, *, reason: str | None = None) -> PendingChange | None:
        resp = self._send("DELETE", f"/v1/models/{_seg(model)}/aliases/{_seg(alias)}", reason=reason)
        return PendingChange.from_json(resp.json()) if resp.status_code == 202 else None

    # -- deployments -------------------------------------------------------------------------

    def get_deployment(self, model: str) -> Deployment:
        return Deployment.from_json(self._json("GET", f"/v1/models/{_seg(model)}/deployment"))

    def deploy(self, model: str, version: int, *, reason: str | None = None) -> Deployment | PendingChange:
        """Deploy a version (loaded and warmed first); a PendingChange if the deployment is
        protected and needs approval."""
        body = {"version": int(version), "reason": reason}
        return self._change("PUT", f"/v1/models/{_seg(model)}/deployment", Deployment.from_json, json_body=body)

    def undeploy(self, model: str, *, reason: str | None = None) -> PendingChange | None:
        resp = self._send("DELETE", f"/v1/models/{_seg(model)}/deployment", json_body={"reason": reason})
        return PendingChange.from_json(resp.json()) if resp.status_code == 202 else None

    def rollback(
        self, model: str, version: int | None = None, *, reason: str | None = None
    ) -> Deployment | PendingChange:
        """Back to the version deployed before the current one, or to `version`."""
        body: dict[str, Any] = {"reason": reason}
        if version is not None:
            body["version"] = int(version)
        path = f"/v1/models/{_seg(model)}/deployment/rollback"
        return self._change("POST", path, Deployment.from_json, json_body=body)

    def set_canary(
        self, model: str, version: int, percent: int, *, reason: str | None = None
    ) -> Deployment | PendingChange:
        body = {"version": int(version), "percent": int(percent), "reason": reason}
        return self._change("PUT", f"/v1/models/{_seg(model)}/deployment/canary", Deployment.from_json, json_body=body)

    def promote_canary(self, model: str, *, reason: str | None = None) -> Deployment | PendingChange:
        path = f"/v1/models/{_seg(model)}/deployment/canary/promote"
        return self._change("POST", path, Deployment.from_json, json_body={"reason": reason})

    def abort_canary(self, model: str, *, reason: str | None = None) -> Deployment:
        path = f"/v1/models/{_seg(model)}/deployment/canary"
        return Deployment.from_json(self._json("DELETE", path, reason=reason))

    def history(self, model: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """Every deployment and alias change of a model, newest first."""
        path = f"/v1/models/{_seg(model)}/deployment/history"
        return [HistoryEntry.from_json(d) for d in self._pages(path, "entries", {}, limit)]

    # -- protection and approvals ------------------------------------------------------------

    def get_protection(self, model: str) -> Protection:
        return Protection.from_json(self._json("GET", f"/v1/models/{_seg(model)}/protection"))

    def set_protection(
        self,
        model: str,
        *,
        deployment: bool = False,
        aliases: Sequence[str] = (),
        require_approval: bool = False,
        reason: str | None = None,
    ) -> Protection:
        body = {"deployment": deployment, "aliases": list(aliases), "require_approval": require_approval}
        return Protection.from_json(
            self._json("PUT", f"/v1/models/{_seg(model)}/protection", json_body=body, reason=reason)
        )

    def list_approvals(
        self, *, model: str | None = None, state: str | None = "pending", limit: int | None = None
    ) -> list[PendingChange]:
        params = {"model": model, "state": state}
        return [PendingChange.from_json(d) for d in self._pages("/v1/approvals", "changes", params, limit)]

    def get_approval(self, change_id: int) -> PendingChange:
        return PendingChange.from_json(self._json("GET", f"/v1/approvals/{int(change_id)}"))

    def approve(self, change_id: int, *, reason: str | None = None) -> PendingChange:
        path = f"/v1/approvals/{int(change_id)}/approve"
        return PendingChange.from_json(self._json("POST", path, json_body={"reason": reason}))

    def reject(self, change_id: int, *, reason: str | None = None) -> PendingChange:
        path = f"/v1/approvals/{int(change_id)}/reject"
        return PendingChange.from_json(self._json("POST", path, json_body={"reason": reason}))

    # -- audit and tokens --------------------------------------------------------------------

    def audit(self, *, model: str | None = None, limit: int | None = 100) -> list[AuditEntry]:
        """The audit log, newest first (the last `limit` entries; `None` for all)."""
        return [AuditEntry.from_json(d) for d in self._pages("/v1/audit", "entries", {"model": model}, limit)]

    def create_token(
        self,
        name: str,
        principal: str,
        grants: Iterable[Grant | tuple[str, str] | Mapping[str, str]],
        *,
        expires_at: str | None = None,
    ) -> CreatedToken:
        """A new token (admin). Its text is in the result's `token`, shown this once."""
        gs: list[dict[str, str]] = []
        for g in grants:
            if isinstance(g, Grant):
                gs.append(g.to_json())
            elif isinstance(g, tuple):
                gs.append({"role": g[0], "models": g[1]})
            else:
                gs.append({"role": g["role"], "models": g.get("models", "*")})
        body: dict[str, Any] = {"name": name, "principal": principal, "grants": gs}
        if expires_at is not None:
            body["expires_at"] = expires_at
        d = self._json("POST", "/v1/tokens", json_body=body)
        return CreatedToken(info=TokenInfo.from_json(d), token=d["token"])

    def list_tokens(self, *, limit: int | None = None) -> list[TokenInfo]:
        return [TokenInfo.from_json(d) for d in self._pages("/v1/tokens", "tokens", {}, limit)]

    def revoke_token(self, token_id: str) -> TokenInfo:
        return TokenInfo.from_json(self._json("DELETE", f"/v1/tokens/{_seg(token_id)}"))

    # -- push --------------------------------------------------------------------------------

    def push(
        self,
        obj_or_path: Any,
        model: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        run: str | None = None,
        commit: str | None = None,
        dataset: str | None = None,
        sample_input: ArrayLike | None = None,
        create_model: bool = True,
        allow_pickle: bool = False,
        progress: ProgressArg = None,
        framework: str | None = None,
        reason: str | None = None,
    ) -> Version:
        """Push a new version of `model` and return it.

        `obj_or_path` is a file path (streamed, never held in memory; its SHA-256 is computed in
        a first pass and sent for the server to verify), a fitted scikit-learn estimator or
        Pipeline (converted to ONNX from `sample_input` and checked against the estimator's own
        predictions; needs the `[sklearn]` extra), an `onnx.ModelProto`, or bytes. A pickle
        (a `.pkl`/`.pickle`/`.joblib` path, a file that starts like a pickle, or any other
        Python object, which is pickled) is refused unless `allow_pickle=True`.
        `create_model` creates the model if it does not exist yet.
        """
        from . import _sklearn

        parameters: dict[str, Any] = {}
        tmp: str | None = None
        try:
            if isinstance(obj_or_path, (str, os.PathLike)):
                path = Path(obj_or_path)
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                if not allow_pickle and _looks_like_pickle(path):
                    raise PickleRefused(
                        f"{path} is a pickle/joblib file: loading it runs arbitrary code, and Depot stores "
                        "but never serves it. Push an ONNX model (or a fitted estimator with sample_input=), "
                        "or pass allow_pickle=True to store it anyway"
                    )
                filename = path.name
            elif _sklearn.is_sklearn_estimator(obj_or_path):
                converted = _sklearn.convert(obj_or_path, sample_input)
                parameters.update(converted.parameters)
                framework = framework or "sklearn"
                tmp = _write_temp(converted.onnx_bytes, ".onnx")
                path, filename = Path(tmp), f"{model}.onnx"
            elif type(obj_or_path).__name__ == "ModelProto" and hasattr(obj_or_path, "SerializeToString"):
                tmp = _write_temp(obj_or_path.SerializeToString(), ".onnx")
                path, filename = Path(tmp), f"{model}.onnx"
                framework = framework or "onnx"
            elif isinstance(obj_or_path, (bytes, bytearray, memoryview)):
                raw = bytes(obj_or_path)
                if not allow_pickle and _is_pickle_prefix(raw[:64]):
                    raise PickleRefused("these bytes are a pickle; pass allow_pickle=True to store them anyway")
                tmp = _write_temp(raw, ".bin")
                path, filename = Path(tmp), f"{model}.bin"
            else:
                if not allow_pickle:
                    raise PickleRefused(
                        f"a {type(obj_or_path).__module__}.{type(obj_or_path).__name__} can only be pushed as a "
                        "pickle, which Depot stores but never serves (and loading it runs arbitrary code); "
                        "pass allow_pickle=True to push it anyway"
                    )
                fd, tmp = tempfile.mkstemp(suffix=".pkl", prefix="depot-push-")
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(obj_or_path, f, protocol=4)
                path, filename = Path(tmp), f"{model}.pkl"
                framework = framework or "pickle"

            if params:
                parameters.update(params)
            meta: dict[str, Any] = {}
            if description is not None:
                meta["description"] = description
            if tags is not None:
                meta["tags"] = list(tags)
            inner: dict[str, Any] = {}
            if framework is not None:
                inner["framework"] = framework
            if metrics:
                inner["metrics"] = dict(metrics)
            if parameters:
                inner["parameters"] = parameters
            lineage = {k: v for k, v in (("source_run", run), ("commit", commit), ("dataset", dataset)) if v is not None}
            if lineage:
                inner["lineage"] = lineage
            if inner:
                meta["metadata"] = inner
            meta["sha256"] = sha256_file(path)

            if create_model:
                try:
                    self.create_model(model)
                except DepotError as e:
                    if e.code != "model_exists":
                        raise
            return self._upload(model, path, filename, meta, progress, reason)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _upload(
        self,
        model: str,
        path: Path,
        filename: str,
        metadata: Mapping[str, Any],
        progress: ProgressArg,
        reason: str | None,
    ) -> Version:
        size = path.stat().st_size
        callback = progress_callback(progress, f"push {model}", size)
        with open(path, "rb", buffering=0) as f:
            body = MultipartBody(json.dumps(metadata).encode("utf-8"), f, size, filename, callback)
            resp = self._send(
                "POST",
                f"/v1/models/{_seg(model)}/versions",
                data=body,
                headers={"Content-Type": body.content_type},
                reason=reason,
                timeout=(30.0, None),
            )
        return Version.from_json(resp.json())

    # -- predictions -------------------------------------------------------------------------

    def model_metadata(self, ref: str, *, refresh: bool = False) -> ModelMetadata:
        """The Open Inference Protocol metadata of `ref` (cached per ref by this client)."""
        if not refresh:
            cached = self._metadata.get(ref)
            if cached is not None:
                return cached
        name, target = parse_ref(ref)
        path = f"/v2/models/{_seg(name)}" + (f"/versions/{_seg(target)}" if target is not None else "")
        md = ModelMetadata.from_json(self._json("GET", path))
        with self._metadata_lock:
            self._metadata[ref] = md
        return md

    def infer(self, ref: str, X: ArrayLike | Mapping[str, ArrayLike]) -> Prediction:
        """Like `predict`, with the version that served the request."""
        name, target = parse_ref(ref)
        path = f"/v2/models/{_seg(name)}" + (f"/versions/{_seg(target)}" if target is not None else "") + "/infer"
        cached = ref in self._metadata
        md = self.model_metadata(ref)
        try:
            return self._infer_once(path, md, X)
        except InvalidRequest as e:
            # The cached signature may be stale (a new deployment, a moved alias): re-read once.
            if not cached or e.status != 400:
                raise
            fresh = self.model_metadata(ref, refresh=True)
            if fresh == md:
                raise
            return self._infer_once(path, fresh, X)

    def predict(self, ref: str, X: ArrayLike | Mapping[str, ArrayLike]) -> dict[str, npt.NDArray[Any]]:
        """Predict with `ref` (`name` for the deployed version, `name@alias`, `name:version`).

        `X` is one array (for a model with a single input) or a dict of input name -> array.
        Inputs are cast to the signature's datatypes and sent as binary tensors over the Open
        Inference Protocol; the result is a dict of output name -> NumPy array.
        """
        return self.infer(ref, X).outputs

    def _infer_once(self, path: str, md: ModelMetadata, X: ArrayLike | Mapping[str, ArrayLike]) -> Prediction:
        if isinstance(X, Mapping):
            inputs: Mapping[str, Any] = X
        else:
            if len(md.inputs) != 1:
                names = ", ".join(i.name for i in md.inputs)
                raise ValueError(f"model {md.name} has {len(md.inputs)} inputs ({names}): pass a dict of name -> array")
            inputs = {md.inputs[0].name: X}
        body, header_len = _oip.build_request(inputs, md)
        headers = dict(self._infer_headers)
        headers["Inference-Header-Content-Length"] = str(header_len)
        # The hot path goes straight to the connection pool of the requests session (its
        # urllib3 pool: same connections), skipping requests' per-call preparation.
        try:
            r = self._pool.urlopen(
                "POST",
                self._base_path + path,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=self._pool_timeout,
            )
        except urllib3.exceptions.HTTPError as e:
            raise TransportError(f"POST {self.url}{path} failed: {type(e).__name__}: {e}") from None
        content = r.data
        if r.status >= 400:
            raise error_from_response(r.status, content, r.reason or "")
        hl = r.headers.get("Inference-Header-Content-Length")
        header, outputs = _oip.parse_response(content, int(hl) if hl is not None else None)
        return Prediction(
            outputs=outputs,
            model=str(header.get("model_name", md.name)),
            version=str(header.get("model_version", "")),
            served_by=r.headers.get("depot-served-by"),
        )


def _write_temp(data: bytes, suffix: str) -> str:
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="depot-push-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return tmp


def _is_pickle_prefix(head: bytes) -> bool:
    # Protocols 2-5 open with PROTO (0x80) and the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _looks_like_pickle(path: Path) -> bool:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    with open(path, "rb") as f:
        return _is_pickle_prefix(f.read(2))
