"""Python client of Depot, a model registry and deployment server.

    import depot
    client = depot.Client()                 # DEPOT_URL / DEPOT_TOKEN, or a profile
    v = client.push(estimator, "iris", sample_input=X[:20])
    client.deploy("iris", v.version)
    client.predict("iris", X)               # {"label": array([...]), "probabilities": ...}
"""

from ._client import Client, Prediction, parse_ref
from ._errors import (
    ConfigError,
    Conflict,
    ConversionError,
    DepotError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PickleRefused,
    ServerError,
    TooManyRequests,
    TransportError,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    UnsupportedFormat,
)
from ._types import (
    Alias,
    AuditEntry,
    Batching,
    Canary,
    CreatedToken,
    Deployment,
    Grant,
    HistoryEntry,
    Lineage,
    Model,
    ModelMetadata,
    PendingChange,
    Protection,
    Signature,
    TensorMetadata,
    TensorSpec,
    TokenInfo,
    Version,
    VersionMetadata,
    WhoAmI,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Prediction",
    "parse_ref",
    "DepotError",
    "InvalidRequest",
    "PayloadTooLarge",
    "UnsupportedFormat",
    "Unprocessable",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "TooManyRequests",
    "ServerError",
    "Unavailable",
    "TransportError",
    "ConfigError",
    "ConversionError",
    "PickleRefused",
    "Alias",
    "AuditEntry",
    "Batching",
    "Canary",
    "CreatedToken",
    "Deployment",
    "Grant",
    "HistoryEntry",
    "Lineage",
    "Model",
    "ModelMetadata",
    "PendingChange",
    "Protection",
    "Signature",
    "TensorMetadata",
    "TensorSpec",
    "TokenInfo",
    "Version",
    "VersionMetadata",
    "WhoAmI",
]
