"""A streamed multipart/form-data body (the `metadata` part first, then the artifact read from
its file in chunks), SHA-256 of a file in one pass, and a one-line progress bar."""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import time
from typing import BinaryIO, Callable, Union

CHUNK = 1 << 20

ProgressCallback = Callable[[int, int], None]
ProgressArg = Union[None, bool, ProgressCallback]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file, read in 1 MiB chunks (never held in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return "sha256:" + h.hexdigest()


class ProgressBar:
    """One line on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if sent < total and now - self.last < 0.1:
            return
        self.last = now
        frac = sent / total if total else 1.0
        width = 30
        filled = int(frac * width)
        rate = sent / max(now - self.start, 1e-6)
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}% "
            f"{_human(sent)}/{_human(total)} {_human(rate)}/s"
        )
        sys.stderr.write(line)
        if sent >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def progress_callback(progress: ProgressArg, label: str, total: int) -> ProgressCallback | None:
    """`None`: a bar only when stderr is a terminal; `True`/`False`: always/never; a callable
    is called with (bytes sent, total bytes)."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if progress is True:
        return ProgressBar(label, total)
    if progress is False:
        return None
    return progress


class MultipartBody:
    """A file-like multipart body of known length. `requests` sends it with a Content-Length
    header, reading it in small blocks; the artifact is read from its file as it goes.

    Deliberately not an `io` class: `requests` would take its `tell()`/iteration for a stream
    of unknown length and fall back to chunked encoding."""

    def __init__(
        self,
        metadata_json: bytes | None,
        artifact: BinaryIO,
        artifact_size: int,
        filename: str,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.boundary = "depot-" + secrets.token_hex(16)
        b = self.boundary.encode("ascii")
        head = b""
        if metadata_json is not None:
            head += (
                b"--" + b + b"\r\n"
                b'Content-Disposition: form-data; name="metadata"\r\n'
                b"Content-Type: application/json\r\n\r\n" + metadata_json + b"\r\n"
            )
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head += (
            b"--" + b + b"\r\n"
            b'Content-Disposition: form-data; name="artifact"; filename="' + safe_name.encode("utf-8") + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        self._head = head
        self._tail = b"\r\n--" + b + b"--\r\n"
        self._artifact = artifact
        self._artifact_size = artifact_size
        self._length = len(head) + artifact_size + len(self._tail)
        self._pos = 0
        self._progress = progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._length - self._pos
        out = bytearray()
        while len(out) < size and self._pos < self._length:
            want = size - len(out)
            head_end = len(self._head)
            art_end = head_end + self._artifact_size
            if self._pos < head_end:
                chunk = self._head[self._pos : self._pos + want]
            elif self._pos < art_end:
                chunk = self._artifact.read(min(want, art_end - self._pos))
                if not chunk:
                    raise OSError("the artifact file got shorter while it was being uploaded")
                if self._progress is not None:
                    self._progress(self._pos + len(chunk) - head_end, self._artifact_size)
            else:
                start = self._pos - art_end
                chunk = self._tail[start : start + want]
            out += chunk
            self._pos += len(chunk)
        return bytes(out)
