"""Exceptions: one base class, `DepotError`, with a subclass per kind of failure."""

from __future__ import annotations

import json
from typing import Any

__all__ = [
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
    "error_from_response",
]


class DepotError(Exception):
    """Base class of every error this package raises.

    For an answer from the server, `status` is the HTTP status, `code` the server's stable
    error code (`model_not_found`, `forbidden`, ...; `None` for the `/v2` routes, whose error
    body carries only a message) and `message` the server's message.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class InvalidRequest(DepotError):
    """400: the request was refused as invalid (bad name, body, input tensor, ...)."""


class PayloadTooLarge(InvalidRequest):
    """413: the body is over one of the server's size limits."""


class UnsupportedFormat(InvalidRequest):
    """415: the artifact's format was not recognised."""


class Unprocessable(InvalidRequest):
    """422: a corrupt artifact, or a version ONNX Runtime cannot load (nothing changed)."""


class Unauthenticated(DepotError):
    """401: no token, or an unknown, expired or revoked one."""


class Forbidden(DepotError):
    """403: the token's grants do not allow this."""


class NotFound(DepotError):
    """404: no such model, version, alias, deployment, change or token."""


class Conflict(DepotError):
    """409: exists already, in use, not servable, nothing to roll back to, no longer pending..."""


class TooManyRequests(DepotError):
    """429: the version's queue is full, or too many failed authentications from this address."""


class ServerError(DepotError):
    """5xx: the server failed."""


class Unavailable(ServerError):
    """503: the server (or a dependency of it) is unavailable."""


class TransportError(DepotError):
    """The server could not be reached, or the connection failed mid-request."""


class ConfigError(DepotError):
    """The client is not configured (no URL), or its credentials file is unusable."""


class ConversionError(DepotError):
    """A scikit-learn estimator could not be converted to ONNX, or the converted model's
    predictions differ from the estimator's own."""


class PickleRefused(DepotError):
    """A pickle would have been pushed without `allow_pickle=True`."""


_BY_STATUS: dict[int, type[DepotError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedFormat,
    422: Unprocessable,
    429: TooManyRequests,
    503: Unavailable,
}


def error_class(status: int) -> type[DepotError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status == 408 or 400 <= status < 500:
        return InvalidRequest
    return DepotError


def error_from_response(status: int, body: bytes, reason: str = "") -> DepotError:
    """Build the exception for an error answer: Depot's `{"code", "message"}` body (`/v1`), the
    protocol's `{"error"}` body (`/v2`), or anything else (a proxy's page)."""
    code: str | None = None
    message: str | None = None
    try:
        parsed: Any = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict):
        if isinstance(parsed.get("code"), str):
            code = parsed["code"]
        if isinstance(parsed.get("message"), str):
            message = parsed["message"]
        elif isinstance(parsed.get("error"), str):
            message = parsed["error"]
    if message is None:
        text = body[:500].decode("utf-8", "replace").strip()
        message = text or reason or f"HTTP {status}"
    return error_class(status)(message, status=status, code=code)
