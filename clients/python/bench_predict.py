#!/usr/bin/env python3
"""Client-side latency of `depot.Client.predict` beside tritonclient.http's `infer`, for the
same call (mlp.onnx, 784 -> 10, batch 1, binary tensors) against the same server.

    python bench_predict.py                       # starts its own server (like the tests)
    python bench_predict.py --url URL --token T   # or uses a running one
Each client makes --warmup calls, then --calls timed calls, alternating in rounds of 100 so
that both see the same server state; prints mean / p50 / p99 per call.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import statistics
import sys
import time
from typing import Callable

import numpy as np

import depot

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MLP = REPO / "tests" / "fixtures" / "mlp.onnx"


def summary(name: str, samples: list[float]) -> str:
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return (
        f"{name:<24} n={len(s):5d}  mean {statistics.fmean(s) * 1e6:7.1f} us  "
        f"p50 {p(0.50) * 1e6:7.1f} us  p99 {p(0.99) * 1e6:7.1f} us"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("DEPOT_URL"))
    ap.add_argument("--token", default=os.environ.get("DEPOT_TOKEN"))
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()

    server = None
    if not args.url:
        sys.path.insert(0, str(HERE / "tests"))
        from conftest import start_server  # type: ignore[import-not-found]

        server = start_server()
        args.url, args.token = server.url, server.admin_token
    try:
        return run(args.url, args.token, args.calls, args.warmup)
    finally:
        if server is not None:
            server.stop()


def run(url: str, token: str, calls: int, warmup: int) -> int:
    import tritonclient.http as triton

    client = depot.Client(url, token)
    name = "bench-mlp"
    versions = [] if name not in [m.name for m in client.list_models(prefix=name)] else client.list_versions(name)
    version = versions[0].version if versions else client.push(MLP, name, description="bench").version
    ref = f"{name}:{version}"
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)

    tc = triton.InferenceServerClient(url.split("://", 1)[1], connection_timeout=60, network_timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    md = client.model_metadata(ref)
    inp = triton.InferInput(md.inputs[0].name, [1, 784], "FP32")
    out = triton.InferRequestedOutput(md.outputs[0].name, binary_data=True)

    def depot_call() -> np.ndarray:
        return client.predict(ref, x)[md.outputs[0].name]

    def triton_call() -> np.ndarray:
        inp.set_data_from_numpy(x, binary_data=True)
        res = tc.infer(name, [inp], model_version=str(version), outputs=[out], headers=headers)
        return res.as_numpy(md.outputs[0].name)

    a, b = depot_call(), triton_call()
    if a.tobytes() != b.tobytes():
        print("depot.predict and tritonclient disagree", file=sys.stderr)
        return 1

    funcs: dict[str, Callable[[], np.ndarray]] = {"depot.Client.predict": depot_call, "tritonclient.http infer": triton_call}
    for f in funcs.values():
        for _ in range(warmup):
            f()
    samples: dict[str, list[float]] = {k: [] for k in funcs}
    done = 0
    while done < calls:
        n = min(100, calls - done)
        for k, f in funcs.items():
            for _ in range(n):
                t0 = time.perf_counter()
                f()
                samples[k].append(time.perf_counter() - t0)
        done += n
    print(f"server {url}, model {ref} (mlp.onnx 784->512->512->10), batch 1, {calls} calls each after {warmup} warm-up")
    for k, s in samples.items():
        print(summary(k, s))
    tc.close()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
