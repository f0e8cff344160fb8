"""A 1 GiB push is streamed: the client process's peak RSS stays under 100 MiB."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

import depot

from conftest import Server  # type: ignore[import-not-found]

GiB = 1 << 30

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import depot
    client = depot.Client()  # DEPOT_URL / DEPOT_TOKEN
    v = client.push(sys.argv[1], sys.argv[2], allow_pickle=True, progress=True, description="1 GiB")
    # ru_maxrss counts the whole process, the fork of the (large) pytest process before exec
    # included; VmHWM is the peak RSS of this program image only.
    ru_maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with open("/proc/self/status") as f:
        hwm_kib = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    print(json.dumps({"version": v.version, "size": v.size_bytes, "format": v.format,
                      "digest": v.digest, "peak_rss_kib": hwm_kib, "ru_maxrss_kib": ru_maxrss_kib}))
    """
)


def test_push_1gib_file_streams(server: Server, admin: depot.Client, model_name: str, tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    with open(path, "wb") as f:
        f.write(b"\x80\x04\x95")  # opens like a pickle (protocol 4): stored as such
        f.truncate(GiB)  # the rest is a hole: zeros, without using the disk
    env = dict(os.environ, DEPOT_URL=server.url, DEPOT_TOKEN=server.admin_token)
    env.pop("DEPOT_PROFILE", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), model_name],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["size"] == GiB and result["format"] == "pickle"
    assert result["peak_rss_kib"] < 100 * 1024, f"peak RSS {result['peak_rss_kib'] / 1024:.1f} MiB"
    # The progress bar (forced on: stderr is not a terminal here) ends at 100 %.
    assert "100.0%" in proc.stderr and "1.0 GiB/1.0 GiB" in proc.stderr
    # The digest the client computed was sent and checked by the server; it is the one stored.
    assert result["digest"].startswith("sha256:")
    print(
        f"\n1 GiB push: client peak RSS (VmHWM) {result['peak_rss_kib'] / 1024:.1f} MiB, "
        f"ru_maxrss {result['ru_maxrss_kib'] / 1024:.1f} MiB"
    )
    admin.delete_version(model_name, result["version"])
