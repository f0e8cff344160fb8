"""Typed views of the server's answers. Each keeps the server's JSON in `raw` (not shown in
repr) so that fields added by a newer server are not lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
import re
from typing import Any, Mapping

__all__ = [
    "Model",
    "Version",
    "VersionMetadata",
    "Lineage",
    "TensorSpec",
    "Signature",
    "Batching",
    "Alias",
    "Canary",
    "Deployment",
    "HistoryEntry",
    "AuditEntry",
    "PendingChange",
    "Protection",
    "Grant",
    "TokenInfo",
    "CreatedToken",
    "WhoAmI",
    "TensorMetadata",
    "ModelMetadata",
]

_TS = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp as an aware datetime (any number of fractional digits, `Z`)."""
    m = _TS.match(value)
    if not m:
        return datetime.fromisoformat(value)
    base, frac, tz = m.groups()
    text = base
    if frac:
        text += "." + (frac + "000000")[:6]
    if tz is None or tz == "Z":
        text += "+00:00"
    else:
        text += tz
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _time(d: Mapping[str, Any], key: str) -> datetime | None:
    v = d.get(key)
    return parse_time(v) if isinstance(v, str) else None


def _req_time(d: Mapping[str, Any], key: str) -> datetime:
    t = _time(d, key)
    if t is None:
        raise ValueError(f"missing timestamp {key!r} in server answer")
    return t


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    tags: list[str]
    version_count: int
    latest_version: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Model:
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            tags=list(d.get("tags", [])),
            version_count=int(d.get("version_count", 0)),
            latest_version=d.get("latest_version"),
            created_at=_req_time(d, "created_at"),
            created_by=d.get("created_by", ""),
            updated_at=_req_time(d, "updated_at"),
            raw=d,
        )


@dataclass(frozen=True)
class Lineage:
    source_run: str | None = None
    commit: str | None = None
    dataset: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Lineage:
        d = d or {}
        return cls(source_run=d.get("source_run"), commit=d.get("commit"), dataset=d.get("dataset"))


@dataclass(frozen=True)
class VersionMetadata:
    framework: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> VersionMetadata:
        d = d or {}
        return cls(
            framework=d.get("framework"),
            metrics=dict(d.get("metrics") or {}),
            parameters=dict(d.get("parameters") or {}),
            lineage=Lineage.from_json(d.get("lineage")),
        )


@dataclass(frozen=True)
class TensorSpec:
    name: str
    kind: str
    datatype: str | None
    shape: list[int] | None
    dim_names: list[str | None]
    type_name: str

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorSpec:
        return cls(
            name=d["name"],
            kind=d.get("kind", "tensor"),
            datatype=d.get("datatype"),
            shape=list(d["shape"]) if d.get("shape") is not None else None,
            dim_names=list(d.get("dim_names") or []),
            type_name=d.get("type_name", ""),
        )


@dataclass(frozen=True)
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Signature | None:
        if not d:
            return None
        return cls(
            inputs=[TensorSpec.from_json(t) for t in d.get("inputs", [])],
            outputs=[TensorSpec.from_json(t) for t in d.get("outputs", [])],
        )


@dataclass(frozen=True)
class Batching:
    max_batch_size: int
    max_queue_delay_ms: int


@dataclass(frozen=True)
class Version:
    model: str
    version: int
    digest: str
    size_bytes: int
    format: str
    servable: bool
    unservable_reason: str | None
    signature: Signature | None
    metadata: VersionMetadata
    description: str
    tags: list[str]
    batching: Batching | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    artifact_url: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Version:
        b = d.get("batching")
        return cls(
            model=d["model"],
            version=int(d["version"]),
            digest=d.get("digest", ""),
            size_bytes=int(d.get("size_bytes", 0)),
            format=d.get("format", ""),
            servable=bool(d.get("servable", False)),
            unservable_reason=d.get("unservable_reason"),
            signature=Signature.from_json(d.get("signature")),
            metadata=VersionMetadata.from_json(d.get("metadata")),
            description=d.get("description", ""),
            tags=list(d.get("tags", [])),
            batching=Batching(int(b["max_batch_size"]), int(b["max_queue_delay_ms"])) if b else None,
            created_at=_req_time(d, "created_at"),
            created_by=d.get("created_by", ""),
            updated_at=_req_time(d, "updated_at"),
            artifact_url=d.get("artifact_url", ""),
            raw=d,
        )


@dataclass(frozen=True)
class Alias:
    model: str
    alias: str
    version: int
    updated_at: datetime
    updated_by: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alias:
        return cls(
            model=d["model"],
            alias=d["alias"],
            version=int(d["version"]),
            updated_at=_req_time(d, "updated_at"),
            updated_by=d.get("updated_by", ""),
            raw=d,
        )


@dataclass(frozen=True)
class Canary:
    version: int
    percent: int


@dataclass(frozen=True)
class Deployment:
    model: str
    version: int
    canary: Canary | None
    updated_at: datetime
    updated_by: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Deployment:
        c = d.get("canary")
        return cls(
            model=d["model"],
            version=int(d["version"]),
            canary=Canary(int(c["version"]), int(c["percent"])) if c else None,
            updated_at=_req_time(d, "updated_at"),
            updated_by=d.get("updated_by", ""),
            raw=d,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One deployment or alias change (`from_version` -> `to_version`)."""

    id: int
    at: datetime
    actor: str
    action: str
    alias: str | None
    from_version: int | None
    to_version: int | None
    reason: str | None
    token: str | None
    details: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HistoryEntry:
        return cls(
            id=int(d["id"]),
            at=_req_time(d, "at"),
            actor=d.get("actor", ""),
            action=d.get("action", ""),
            alias=d.get("alias"),
            from_version=d.get("from"),
            to_version=d.get("to"),
            reason=d.get("reason"),
            token=d.get("token"),
            details=dict(d.get("details") or {}),
            raw=d,
        )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    model: str | None
    version: int | None
    reason: str | None
    token: str | None
    details: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AuditEntry:
        return cls(
            id=int(d["id"]),
            at=_req_time(d, "at"),
            actor=d.get("actor", ""),
            action=d.get("action", ""),
            model=d.get("model"),
            version=d.get("version"),
            reason=d.get("reason"),
            token=d.get("token"),
            details=dict(d.get("details") or {}),
            raw=d,
        )


@dataclass(frozen=True)
class PendingChange:
    """A change to a protected alias or deployment waiting for another principal's approval
    (what a 202 answer carries), or such a change after its decision."""

    id: int
    model: str
    kind: str
    state: str
    version: int | None
    alias: str | None
    percent: int | None
    reason: str | None
    proposed_by: str
    proposed_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.state == "pending"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PendingChange:
        return cls(
            id=int(d["id"]),
            model=d["model"],
            kind=d.get("kind", ""),
            state=d.get("state", ""),
            version=d.get("version"),
            alias=d.get("alias"),
            percent=d.get("percent"),
            reason=d.get("reason"),
            proposed_by=d.get("proposed_by", ""),
            proposed_at=_req_time(d, "proposed_at"),
            expires_at=_req_time(d, "expires_at"),
            decided_by=d.get("decided_by"),
            decided_at=_time(d, "decided_at"),
            decision_reason=d.get("decision_reason"),
            raw=d,
        )


@dataclass(frozen=True)
class Protection:
    deployment: bool
    require_approval: bool
    aliases: list[str]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Protection:
        return cls(
            deployment=bool(d.get("deployment", False)),
            require_approval=bool(d.get("require_approval", False)),
            aliases=list(d.get("aliases") or []),
        )


@dataclass(frozen=True)
class Grant:
    role: str
    models: str = "*"

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "models": self.models}


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: its public id, never its secret."""

    id: str
    name: str
    principal: str
    grants: list[Grant]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TokenInfo:
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            principal=d.get("principal", ""),
            grants=[Grant(g["role"], g["models"]) for g in d.get("grants", [])],
            created_at=_req_time(d, "created_at"),
            created_by=d.get("created_by", ""),
            expires_at=_time(d, "expires_at"),
            last_used_at=_time(d, "last_used_at"),
            revoked_at=_time(d, "revoked_at"),
            raw={k: v for k, v in d.items() if k != "token"},
        )


@dataclass(frozen=True)
class CreatedToken:
    """A token just created. `token` is its text, shown this once; it is not in repr."""

    info: TokenInfo
    token: str = field(repr=False)


@dataclass(frozen=True)
class WhoAmI:
    principal: str
    token: str | None
    grants: list[Grant]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WhoAmI:
        return cls(
            principal=d["principal"],
            token=d.get("token"),
            grants=[Grant(g["role"], g["models"]) for g in d.get("grants", [])],
        )


@dataclass(frozen=True)
class TensorMetadata:
    name: str
    datatype: str
    shape: list[int]


@dataclass(frozen=True)
class ModelMetadata:
    """The Open Inference Protocol's model metadata (`GET /v2/models/{name}[/versions/{v}]`)."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelMetadata:
        return cls(
            name=d["name"],
            versions=[str(v) for v in d.get("versions", [])],
            platform=d.get("platform", ""),
            inputs=[TensorMetadata(t["name"], t["datatype"], list(t["shape"])) for t in d.get("inputs", [])],
            outputs=[TensorMetadata(t["name"], t["datatype"], list(t["shape"])) for t in d.get("outputs", [])],
        )
