#!/usr/bin/env python3
"""Timing helper of scripts/bench-deployments.sh (standard library only).

  deployments.py propagation --a URL --b URL [--model iris] [--rounds 50] [--from 1] [--to 2]
      Deploys --to/--from alternately through replica A (PUT /v1/models/M/deployment), while a
      thread polls replica B's version-less predict back to back on one keep-alive connection.
      The delay of a round runs from the moment A's PUT returned to the first B response
      (received after that moment) served by the new version (the `depot-served-by` header).
      Also counts B's non-200 answers over the whole run, B answers with the old version after
      the PUT returned, and answers that went back to the old version once the new one had
      been seen (a replica flip-flopping).

  deployments.py rss --url URL --pid PID [--model iris] [--cycles 100] [--every 10] [--rate 50]
                    [--interval 0.1]
      Under a background loop of version-less predictions (--rate per second), runs cycles of
      PUT deployment {"version": --to} then POST deployment/rollback {} (one every --interval s
      at most, so that predictions interleave with the switches); samples VmRSS of PID
      (from /proc/PID/status) after warm-up, every --every cycles and at the end.

Both print a human summary on stderr and one JSON object on stdout.
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

BODY = json.dumps({"inputs": {"X": [[5.9, 3.0, 5.1, 1.8]]}}).encode()
JSON = {"content-type": "application/json"}
now = time.perf_counter


class Client:
    """One keep-alive HTTP/1.1 connection that reconnects after an error."""

    def __init__(self, url, timeout=10.0):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers dict lower-cased, body bytes); raises on transport errors."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                hdrs = {k.lower(): v for k, v in response.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                return response.status, hdrs, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle: retry once on a new one.
                self.close()
                if attempt == 1:
                    raise
            except Exception:
                self.close()
                raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def served_version(headers, data):
    """The version named by depot-served-by (model/N), checked against the body's `version`."""
    header = headers.get("depot-served-by", "")
    try:
        version = int(header.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None, f"bad depot-served-by header {header!r}"
    try:
        body_version = json.loads(data).get("version")
    except ValueError:
        return version, "response body is not JSON"
    if body_version != version:
        return version, f"header says {version}, body says {body_version}"
    return version, None


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(-(-p * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- propagation --------------------------------------------------------------------------------


class Poller(threading.Thread):
    """Polls B's version-less predict back to back and signals the first answer of a watched
    version received after a given moment."""

    def __init__(self, url, model):
        super().__init__(daemon=True)
        self.client = Client(url)
        self.path = f"/v1/models/{model}/predict"
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.found = threading.Event()
        self.watch = None  # (version, after)
        self.hit = None  # (t_received, polls since watch began)
        self.records = []  # (t_sent, t_received, status, version)
        self.errors = []  # descriptions of non-200 answers, transport errors, header/body mismatches
        self.requests = 0

    def set_watch(self, version, after):
        with self.lock:
            self.found.clear()
            self.hit = None
            self.watch = (version, after)

    def run(self):
        while not self.stop.is_set():
            t0 = now()
            try:
                status, headers, data = self.client.request("POST", self.path, BODY, JSON)
            except Exception as error:  # transport error: counted, not fatal
                t1 = now()
                self.requests += 1
                self.records.append((t0, t1, -1, None))
                self.errors.append(f"{t1:.3f} transport error: {error!r}")
                time.sleep(0.01)
                continue
            t1 = now()
            self.requests += 1
            version = None
            if status == 200:
                version, problem = served_version(headers, data)
                if problem:
                    self.errors.append(f"{t1:.3f} {problem}")
            else:
                self.errors.append(f"{t1:.3f} HTTP {status}: {data[:200]!r}")
            self.records.append((t0, t1, status, version))
            with self.lock:
                if self.watch and not self.found.is_set():
                    want, after = self.watch
                    if t1 >= after and version == want:
                        self.hit = t1
                        self.found.set()
        self.client.close()


def propagation(args):
    a = Client(args.a)
    path = f"/v1/models/{args.model}/deployment"
    poller = Poller(args.b, args.model)
    poller.start()
    time.sleep(0.2)
    rounds = []
    current = getattr(args, "from")
    for i in range(args.rounds):
        target = args.to if current == getattr(args, "from") else getattr(args, "from")
        t_start = now()
        status, _, data = a.request("PUT", path, json.dumps({"version": target}).encode(), JSON)
        t_end = now()
        if status != 200:
            log(f"round {i + 1}: PUT deployment {target} on A answered {status}: {data[:300]!r}")
            rounds.append({"round": i + 1, "target": target, "deploy_status": status})
            continue
        poller.set_watch(target, t_end)
        seen = poller.found.wait(args.timeout)
        with poller.lock:
            hit = poller.hit
            poller.watch = None
        current = target
        if not seen or hit is None:
            log(f"round {i + 1}: B did not serve version {target} within {args.timeout} s of the PUT")
            rounds.append({"round": i + 1, "target": target, "deploy_status": status, "put_ms": (t_end - t_start) * 1e3,
                           "delay_ms": None})
            continue
        # Let B answer a while longer at the new version, to catch any flip back.
        time.sleep(args.settle)
        rounds.append({"round": i + 1, "target": target, "deploy_status": status, "t_start": t_start, "t_end": t_end,
                       "t_hit": hit, "put_ms": (t_end - t_start) * 1e3, "delay_ms": (hit - t_end) * 1e3,
                       "delay_from_put_start_ms": (hit - t_start) * 1e3})
    time.sleep(0.1)
    poller.stop.set()
    poller.join(5)
    a.close()

    # Per round: B answers after the PUT returned that still named the old version (before the
    # hit), and answers after the hit (until the next PUT began) that went back to the old one.
    records = poller.records
    measured = [r for r in rounds if r.get("delay_ms") is not None]
    for k, r in enumerate(measured):
        nxt = measured[k + 1]["t_start"] if k + 1 < len(measured) else float("inf")
        old = [rec for rec in records if r["t_end"] <= rec[1] < r["t_hit"] and rec[2] == 200]
        r["stale_answers"] = len(old)
        r["polls_to_hit"] = len([rec for rec in records if r["t_end"] <= rec[1] <= r["t_hit"]])
        back = [rec for rec in records if r["t_hit"] < rec[1] < nxt and rec[2] == 200 and rec[3] != r["target"]]
        r["reverted_answers"] = len(back)
    delays = [r["delay_ms"] for r in measured]
    puts = [r["put_ms"] for r in rounds if "put_ms" in r]
    non200 = sum(1 for rec in records if rec[2] != 200)
    poll_ms = [(rec[1] - rec[0]) * 1e3 for rec in records if rec[2] == 200]
    result = {
        "rounds": args.rounds,
        "measured": len(measured),
        "delays_ms": [round(d, 3) for d in delays],
        "delay_ms": {
            "min": min(delays) if delays else None,
            "p50": percentile(delays, 50) if delays else None,
            "p90": percentile(delays, 90) if delays else None,
            "max": max(delays) if delays else None,
            "mean": statistics.fmean(delays) if delays else None,
        },
        "over_1s": sum(1 for d in delays if d > 1000),
        "missed": args.rounds - len(measured),
        "deploy_failures": sum(1 for r in rounds if r["deploy_status"] != 200),
        "put_ms": {"p50": percentile(puts, 50) if puts else None, "max": max(puts) if puts else None},
        "b_requests": poller.requests,
        "b_non200": non200,
        "b_errors": poller.errors[:20],
        "b_poll_ms": {"p50": percentile(poll_ms, 50) if poll_ms else None,
                      "p99": percentile(poll_ms, 99) if poll_ms else None},
        "stale_answers_total": sum(r["stale_answers"] for r in measured),
        "reverted_answers_total": sum(r["reverted_answers"] for r in measured),
        "rounds_detail": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                           if k not in ("t_start", "t_end", "t_hit")} for r in rounds],
    }
    d = result["delay_ms"]
    log(f"propagation A -> B over {args.rounds} deploys (alternating v{getattr(args, 'from')}/v{args.to}):")
    if delays:
        log(f"  delay from A's PUT returning to B's first answer by the new version (ms): "
            f"min {d['min']:.2f}  p50 {d['p50']:.2f}  p90 {d['p90']:.2f}  max {d['max']:.2f}  (mean {d['mean']:.2f})")
    log(f"  rounds over 1 s: {result['over_1s']};  never propagated within {args.timeout} s: {result['missed']};"
        f"  failed deploys on A: {result['deploy_failures']}")
    log(f"  A's PUT took p50 {result['put_ms']['p50']:.2f} ms, max {result['put_ms']['max']:.2f} ms")
    log(f"  B: {poller.requests} predictions polled back to back (p50 {result['b_poll_ms']['p50']:.2f} ms each),"
        f" non-200/transport errors: {non200}; old-version answers after the PUT returned: "
        f"{result['stale_answers_total']}; answers back at the old version after the switch: "
        f"{result['reverted_answers_total']}")
    for e in poller.errors[:5]:
        log(f"    {e}")
    print(json.dumps(result))


# --- rss ------------------------------------------------------------------------------------------


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return None


class Load(threading.Thread):
    """Version-less predictions at a steady rate, counting answers."""

    def __init__(self, url, model, rate):
        super().__init__(daemon=True)
        self.client = Client(url)
        self.path = f"/v1/models/{model}/predict"
        self.interval = 1.0 / rate
        self.stop = threading.Event()
        self.ok = 0
        self.failed = 0
        self.failures = []
        self.by_version = {}
        self.latencies = []

    def run(self):
        next_at = now()
        while not self.stop.is_set():
            t0 = now()
            try:
                status, headers, data = self.client.request("POST", self.path, BODY, JSON)
                if status == 200:
                    version, problem = served_version(headers, data)
                    if problem:
                        self.failed += 1
                        self.failures.append(problem)
                    else:
                        self.ok += 1
                        self.by_version[version] = self.by_version.get(version, 0) + 1
                    self.latencies.append((now() - t0) * 1e3)
                else:
                    self.failed += 1
                    self.failures.append(f"HTTP {status}: {data[:200]!r}")
            except Exception as error:
                self.failed += 1
                self.failures.append(f"transport error: {error!r}")
            next_at += self.interval
            delay = next_at - now()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = now()
        self.client.close()


def rss(args):
    c = Client(args.url)
    path = f"/v1/models/{args.model}/deployment"
    deploy_body = json.dumps({"version": args.to}).encode()
    back_to = getattr(args, "from")
    load = Load(args.url, args.model, args.rate)
    load.start()
    problems = []
    op_ms = []

    def cycle():
        t0 = now()
        s1, _, d1 = c.request("PUT", path, deploy_body, JSON)
        t1 = now()
        s2, _, d2 = c.request("POST", path + "/rollback", b"{}", JSON)
        t2 = now()
        op_ms.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3))
        if s1 != 200:
            problems.append(f"deploy {args.to}: HTTP {s1}: {d1[:200]!r}")
        if s2 != 200:
            problems.append(f"rollback: HTTP {s2}: {d2[:200]!r}")
        else:
            v = json.loads(d2).get("version")
            if v != back_to:
                problems.append(f"rollback went to version {v}, not {back_to}")

    for _ in range(args.warmup):
        cycle()
    time.sleep(args.settle)
    op_ms.clear()
    samples = [{"cycle": 0, "label": "start", "rss_kib": vm(args.pid, "VmRSS"), "hwm_kib": vm(args.pid, "VmHWM")}]
    t_begin = now()
    for i in range(1, args.cycles + 1):
        t_cycle = now()
        cycle()
        pause = args.interval - (now() - t_cycle)
        if pause > 0:
            time.sleep(pause)
        if i % args.every == 0:
            samples.append({"cycle": i, "label": f"cycle {i}", "rss_kib": vm(args.pid, "VmRSS"),
                            "hwm_kib": vm(args.pid, "VmHWM")})
    t_cycles = now() - t_begin
    time.sleep(args.settle)
    samples.append({"cycle": args.cycles, "label": f"end (+{args.settle:g} s)", "rss_kib": vm(args.pid, "VmRSS"),
                    "hwm_kib": vm(args.pid, "VmHWM")})
    load.stop.set()
    load.join(5)
    c.close()

    by_cycle = {s["cycle"]: s["rss_kib"] for s in samples if s["label"].startswith("cycle")}
    first = by_cycle.get(args.every)
    last = by_cycle.get(args.cycles)
    growth = (last - first) if first is not None and last is not None else None
    deploys = [d for d, _ in op_ms]
    rollbacks = [r for _, r in op_ms]
    result = {
        "cycles": args.cycles,
        "seconds": t_cycles,
        "samples": samples,
        "growth_kib_cycle_%d_to_%d" % (args.every, args.cycles): growth,
        "growth_kib_start_to_end": samples[-1]["rss_kib"] - samples[0]["rss_kib"],
        "deploy_ms": {"p50": percentile(deploys, 50), "max": max(deploys)},
        "rollback_ms": {"p50": percentile(rollbacks, 50), "max": max(rollbacks)},
        "cycle_problems": problems[:20],
        "cycle_failures": len(problems),
        "predictions_ok": load.ok,
        "predictions_failed": load.failed,
        "prediction_failures": load.failures[:20],
        "predictions_by_version": load.by_version,
        "prediction_ms": {"p50": percentile(load.latencies, 50), "p99": percentile(load.latencies, 99),
                          "max": max(load.latencies) if load.latencies else None},
    }
    mib = lambda kib: kib / 1024.0  # noqa: E731
    log(f"RSS over {args.cycles} deploy/rollback cycles ({t_cycles:.1f} s, one per {args.interval:g} s at most;"
        f" {args.warmup} warm-up cycles before;"
        f" load: ~{args.rate:g} version-less predictions/s):")
    log("  " + "  ".join(f"{s['label']}: {mib(s['rss_kib']):.1f}" for s in samples) + "  (MiB VmRSS)")
    log(f"  growth cycle {args.every} -> {args.cycles}: {mib(growth):+.2f} MiB;"
        f" start -> end: {mib(result['growth_kib_start_to_end']):+.2f} MiB; VmHWM {mib(samples[-1]['hwm_kib']):.1f} MiB")
    log(f"  deploy p50 {result['deploy_ms']['p50']:.2f} ms (max {result['deploy_ms']['max']:.2f}),"
        f" rollback p50 {result['rollback_ms']['p50']:.2f} ms (max {result['rollback_ms']['max']:.2f});"
        f" failed deploys/rollbacks: {len(problems)}")
    log(f"  predictions during the run: {load.ok} ok, {load.failed} failed;"
        f" by version {dict(sorted(load.by_version.items()))}; p50 {result['prediction_ms']['p50']:.2f} ms,"
        f" p99 {result['prediction_ms']['p99']:.2f} ms")
    for p in (problems + load.failures)[:5]:
        log(f"    {p}")
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("propagation")
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--model", default="iris")
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--from", type=int, default=1, help="the version deployed at the start")
    p.add_argument("--to", type=int, default=2)
    p.add_argument("--timeout", type=float, default=5.0, help="give up on a round after this many seconds")
    p.add_argument("--settle", type=float, default=0.2, help="keep polling this long after the switch")
    r = sub.add_parser("rss")
    r.add_argument("--url", required=True)
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--model", default="iris")
    r.add_argument("--cycles", type=int, default=100)
    r.add_argument("--every", type=int, default=10)
    r.add_argument("--warmup", type=int, default=5)
    r.add_argument("--rate", type=float, default=50.0)
    r.add_argument("--interval", type=float, default=0.1, help="a cycle starts at most this often (seconds)")
    r.add_argument("--from", type=int, default=1, help="the deployed version that rollbacks return to")
    r.add_argument("--to", type=int, default=2)
    r.add_argument("--settle", type=float, default=2.0, help="pause after warm-up and before the end sample")
    args = parser.parse_args()
    {"propagation": propagation, "rss": rss}[args.command](args)


if __name__ == "__main__":
    main()
