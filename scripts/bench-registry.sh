#!/usr/bin/env bash
# Registry benchmark: large-artifact upload/download (throughput and server memory) and version
# listing latency with many versions. Self-contained and bounded; only loopback traffic.
#
#   scripts/bench-registry.sh            # builds, runs (a few minutes), prints a summary table
#
# What it does:
#   1. builds the release binary (cargo build --release -p depot), then re-runs itself under
#      `timeout` (BENCH_TIMEOUT_S) so that it always stops; starts PostgreSQL if it is down;
#      creates a fresh database depot_bench_<random> (the server creates and migrates it) and a
#      temporary directory under target/ (same disk as the repository) for the artifact store and
#      the test files; starts `depot serve` on a free loopback port. A trap stops the server and
#      removes the database and the temporary directory, however the script ends.
#   2. writes a BENCH_ARTIFACT_MIB (1024) MiB artifact: tests/fixtures/model.pkl (a pickle is
#      recognised from its first bytes) followed by pseudo-random bytes (AES-CTR keystream from
#      openssl, else /dev/urandom). BENCH_RUNS (3) times, in this order: `cp` of the file on the
#      same disk, upload (curl -F), download (curl -o, same disk), download into /dev/null (the
#      server's side alone: curl -o writes the file in pieces of 4-12 KiB, which costs curl more
#      CPU than the server spends sending), then the version is deleted so the next upload
#      stores a new blob. curl's CPU time is reported beside the server's. Each operation is
#      timed alone (page cache: nothing is dropped, nothing can be) and followed by `sync`,
#      timed too ("op+sync"); the medians are reported. The server's peak RSS is VmHWM, reset before each operation (write 5 to
#      /proc/PID/clear_refs), cross-checked by polling VmRSS every 50 ms; its CPU time comes from
#      /proc/PID/stat. The downloaded bytes' sha256 must equal the file's, the digest the upload
#      reported and the ETag.
#   3. registers BENCH_VERSIONS (10000) versions of one model: small ONNX files (tests/fixtures/
#      tiny.onnx plus a metadata_props entry, so each has its own digest) uploaded over HTTP by
#      BENCH_SEED_PARALLEL (4) clients for at most BENCH_SEED_S (240) seconds; whatever is left
#      is filled in by SQL that clones the last row the server wrote (versions, artifacts and
#      audit_log rows, models.next_version; the cloned rows' blobs do not exist, which listing
#      does not notice). Then VACUUM ANALYZE (the state autovacuum reaches soon after).
#      Measures, with one keep-alive connection, BENCH_REQUESTS (2000) sequential requests after
#      50 warm-up ones: GET .../versions?limit=50 (first page), &cursor=N/2 (middle),
#      &cursor=51 (last full page), GET /v1/models/NAME (counts versions), and /healthz (the HTTP
#      floor); and, where `wrk` is installed, `wrk -t1 -c1 -d BENCH_WRK_S` on the same URLs.
#      Walks every page by its cursors and checks it sees each version once, in order.
#      EXPLAIN ANALYZE of the listing query (custom and generic plans) goes to the details log.
#   4. prints a summary table; it and a details log stay in target/bench-registry/.
#
# Comparing two builds: BENCH_COMPARE_BIN=/path/to/other/depot starts a second server ("B") of
# that binary on the same database and store, and in each run of step 2 uploads and downloads
# through both, alternating which goes first (A B, then B A, ...), so that both see the same
# machine; the summary has a row per binary and server. BENCH_SKIP_LISTING=1 skips step 3.
#
# Settings (environment): BENCH_ARTIFACT_MIB, BENCH_RUNS, BENCH_VERSIONS, BENCH_REQUESTS,
# BENCH_SEED_S, BENCH_SEED_PARALLEL, BENCH_WRK_S, BENCH_TIMEOUT_S (900), BENCH_SKIP_BUILD=1 (use
# the binary as built), DEPOT_BIN, BENCH_COMPARE_BIN, BENCH_SKIP_LISTING=1, BENCH_PG (postgres://postgres@127.0.0.1:5432),
# BENCH_STRICT=1 (exit 3 when a target is missed). Exit status: 0 when every check passed
# (targets only count with BENCH_STRICT=1), 1 on a failed check, 124 on timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/$(basename "$0")"
cd "$root"

export BENCH_ARTIFACT_MIB=${BENCH_ARTIFACT_MIB:-1024}
export BENCH_RUNS=${BENCH_RUNS:-3}
export BENCH_VERSIONS=${BENCH_VERSIONS:-10000}
export BENCH_REQUESTS=${BENCH_REQUESTS:-2000}
export BENCH_SEED_S=${BENCH_SEED_S:-240}
export BENCH_SEED_PARALLEL=${BENCH_SEED_PARALLEL:-4}
export BENCH_WRK_S=${BENCH_WRK_S:-5}
export BENCH_TIMEOUT_S=${BENCH_TIMEOUT_S:-900}
export BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}

if [ -z "${BENCH_CHILD:-}" ]; then
  if [ -z "${BENCH_SKIP_BUILD:-}" ] && [ -z "${DEPOT_BIN:-}" ]; then
    echo "== building the release binary (cargo build --release -p depot)" >&2
    cargo build --release -p depot
  fi
  export BENCH_CHILD=1
  # timeout signals the whole process group (server, curl, wrk included); the trap cleans up.
  exec timeout --kill-after=60 "$BENCH_TIMEOUT_S" bash "$self" "$@"
fi

# ---------------------------------------------------------------------------------------------
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

bin=${DEPOT_BIN:-$root/target/release/depot}
[ -x "$bin" ] || die "no binary at $bin (build it or set DEPOT_BIN)"
for tool in curl psql timeout; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
if [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"; else py=$(command -v python3) || die "no python3"; fi
pkl="$root/tests/fixtures/model.pkl"
onnx="$root/tests/fixtures/tiny.onnx"
[ -s "$pkl" ] && [ -s "$onnx" ] || die "tests/fixtures/model.pkl and tiny.onnx are needed"

out="$root/target/bench-registry"
mkdir -p "$out"
details="$out/details.log"
: >"$details"
work=$(mktemp -d "$root/target/bench-registry-tmp.XXXXXX")
db="depot_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
server=""
server_a=""
server_b=""
sampler=""

cleanup() {
  local status=$?
  set +e
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
  for pid in "$server_a" "$server_b"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  for f in "$work/server.log" "$work/server-b.log"; do
    if [ -f "$f" ]; then
      { echo "== $(basename "$f") (last 40 lines)"; tail -n 40 "$f"; } >>"$details"
    fi
  done
  psql "$BENCH_PG/postgres" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
    log "could not drop database $db"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 124' TERM

loadavg() { echo "$1 $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/load.txt"; }
loadavg start

# --- PostgreSQL, ONNX Runtime library, server ------------------------------------------------
if [ -x "$root/scripts/ensure-postgres.sh" ]; then
  "$root/scripts/ensure-postgres.sh"
fi
psql "$BENCH_PG/postgres" -qAtc 'SELECT 1' >/dev/null || die "PostgreSQL does not answer at $BENCH_PG"
# The server loads ONNX Runtime at start-up from .depot/lib (relative to its working directory).
if [ -x "$root/scripts/fetch-onnxruntime.sh" ]; then
  "$root/scripts/fetch-onnxruntime.sh" >/dev/null || log "warning: fetch-onnxruntime.sh failed"
fi

size=$((BENCH_ARTIFACT_MIB * 1024 * 1024))
max_bytes=$((size > 4294967296 ? size : 4294967296))
# start_server BINARY LOG: starts `depot serve` and waits for it; sets $server and $base.
start_server() {
  log "starting $1 (database $db, store $work/store)"
  # Authentication off: these figures are the registry's (scripts/bench-auth.sh measures tokens).
  DEPOT_AUTH__MODE=off DEPOT_SERVER__LISTEN=127.0.0.1:0 DEPOT_GRPC__LISTEN=127.0.0.1:0 DEPOT_SERVER__SHUTDOWN_TIMEOUT_S=2 \
    DEPOT_DATABASE__URL="$BENCH_PG/$db" DEPOT_STORAGE__URL="$work/store" \
    DEPOT_LIMITS__MAX_ARTIFACT_BYTES="$max_bytes" NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" \
    "$1" serve >"$2" 2>&1 &
  server=$!
  local addr=""
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|^Depot listening on http://\([0-9.:]*\).*|\1|p' "$2" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$server" 2>/dev/null || { tail -n 30 "$2" >&2; die "the server exited"; }
    sleep 0.2
  done
  [ -n "$addr" ] || { tail -n 30 "$2" >&2; die "the server did not start in 120 s"; }
  base="http://$addr"
  log "server pid $server at $base"
}
if [ -n "${BENCH_COMPARE_BIN:-}" ]; then
  [ -x "$BENCH_COMPARE_BIN" ] || die "no binary at $BENCH_COMPARE_BIN (BENCH_COMPARE_BIN)"
  start_server "$BENCH_COMPARE_BIN" "$work/server-b.log"
  server_b=$server base_b=$base
fi
start_server "$bin" "$work/server.log"
server_a=$server base_a=$base
addr=${base#http://}

status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$server/status"; }
cpu_ticks() { local -a st; read -r -a st <"/proc/$server/stat"; echo $((st[13] + st[14])); }
clk=$(getconf CLK_TCK)
reset_peak() { echo 5 >"/proc/$server/clear_refs" 2>/dev/null; }
if reset_peak; then hwm_reset=1; else hwm_reset=0; log "warning: cannot reset VmHWM; using polled VmRSS"; fi
start_sampler() {
  : >"$work/rss.max"
  (
    trap 'exit 0' TERM
    max=0
    while :; do
      while read -r key value _; do
        if [ "$key" = "VmRSS:" ]; then
          [ "$value" -gt "$max" ] && { max=$value; echo "$max" >"$work/rss.max"; }
          break
        fi
      done <"/proc/$server/status" || exit 0
      sleep 0.05
    done
  ) &
  sampler=$!
}
stop_sampler() { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=""; cat "$work/rss.max"; }
now_ns() { date +%s%N; }
# timed FILE COMMAND...: runs COMMAND (its stdout is the caller's), writing the user + system CPU
# seconds it used to FILE (bash's own `time`, so nothing to install).
timed() {
  local file=$1 TIMEFORMAT='%U %S'
  shift
  { time "$@" 2>"$file.err"; } 2>"$file"
  local rc=$?
  cat "$file.err" >&2
  return $rc
}
client_cpu() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }
jget() { "$py" -c 'import json,sys; v=json.load(open(sys.argv[1])); [v:=v[k] for k in sys.argv[2:]]; print(v)' "$@"; }
http() { curl -sS --max-time 60 "$@"; }

# Helper program (standard library only): hashing, seeding, latency loops, the summary.
cat >"$work/bench.py" <<'PY'
import concurrent.futures, hashlib, http.client, json, math, os, re, statistics, sys, threading, time, uuid

def pct(values, p):
    k = max(0, math.ceil(p / 100 * len(values)) - 1)
    return values[k]

def stats_ms(ns):
    s = sorted(x / 1e6 for x in ns)
    return {"n": len(s), "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99), "max": s[-1],
            "mean": sum(s) / len(s)}

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    print(h.hexdigest())

def tiny_variant(template, i):
    # Appends ModelProto.metadata_props (field 14) {key: "depot-bench", value: i}: still a valid
    # ONNX model, with a digest of its own.
    key, value = b"depot-bench", str(i).encode()
    entry = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(value)]) + value
    return template + b"\x72" + bytes([len(entry)]) + entry

def multipart(metadata, artifact):
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="metadata"\r\n'
            'Content-Type: application/json\r\n\r\n').encode() + metadata + b"\r\n"
    body += (f'--{b}\r\nContent-Disposition: form-data; name="artifact"; filename="model.onnx"\r\n'
             'Content-Type: application/octet-stream\r\n\r\n').encode() + artifact + b"\r\n"
    body += f"--{b}--\r\n".encode()
    return "multipart/form-data; boundary=" + b, body

def seed(port, model, count, parallel, budget_s, template_path, out):
    template = open(template_path, "rb").read()
    lock = threading.Lock()
    state = {"next": 1, "errors": 0, "last_error": None}
    deadline = time.monotonic() + budget_s
    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat = []
        while True:
            with lock:
                if state["next"] > count or time.monotonic() > deadline or state["errors"] > 10:
                    return lat
                i = state["next"]
                state["next"] += 1
            meta = json.dumps({
                "description": f"nightly retrain #{i}", "tags": ["bench", "nightly"],
                "metadata": {"framework": "onnx", "metrics": {"auc": 0.9 + (i % 97) / 1000, "loss": 0.2},
                             "parameters": {"lr": 0.01, "layers": [64, 32], "epochs": 20},
                             "lineage": {"source_run": f"run-{i}", "commit": "0123456789abcdef",
                                         "dataset": "s3://datasets/train-2026-11"}}}).encode()
            ctype, body = multipart(meta, tiny_variant(template, i))
            t = time.perf_counter_ns()
            try:
                conn.request("POST", f"/v1/models/{model}/versions", body, {"Content-Type": ctype})
                r = conn.getresponse()
                data = r.read()
                if r.status != 201:
                    raise RuntimeError(f"HTTP {r.status}: {data[:200]!r}")
                lat.append(time.perf_counter_ns() - t)
            except Exception as e:  # count it, reconnect, go on (at most 10)
                with lock:
                    state["errors"] += 1
                    state["last_error"] = str(e)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        lats = sum(ex.map(lambda _: worker(), range(parallel)), [])
    elapsed = time.perf_counter() - t0
    result = {"uploaded": len(lats), "seconds": elapsed, "rate": len(lats) / elapsed if elapsed else 0,
              "parallel": parallel, "errors": state["errors"], "last_error": state["last_error"]}
    if lats:
        result["latency_ms"] = stats_ms(lats)
    json.dump(result, open(out, "w"))
    print(json.dumps(result))

def latency(port, path, n, warmup, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat, size = [], 0
    for i in range(warmup + n):
        t = time.perf_counter_ns()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        d = time.perf_counter_ns() - t
        if r.status != 200:
            raise SystemExit(f"GET {path}: HTTP {r.status}: {body[:200]!r}")
        if i >= warmup:
            lat.append(d)
        size = len(body)
    result = stats_ms(lat)
    result.update({"path": path, "bytes": size})
    json.dump(result, open(out, "w"))

def walk(port, model, expected, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen, pages, cursor = [], 0, None
    t0 = time.perf_counter()
    while pages <= expected // 50 + 5:
        path = f"/v1/models/{model}/versions?limit=50" + (f"&cursor={cursor}" if cursor else "")
        conn.request("GET", path)
        r = conn.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            raise SystemExit(f"GET {path}: HTTP {r.status}: {data}")
        seen += [v["version"] for v in data["versions"]]
        pages += 1
        cursor = data.get("next_cursor")
        if not cursor:
            break
    elapsed = time.perf_counter() - t0
    ok = len(seen) == expected and len(set(seen)) == len(seen) and seen == sorted(seen, reverse=True)
    result = {"pages": pages, "versions": len(seen), "seconds": elapsed, "ok": ok}
    json.dump(result, open(out, "w"))
    print(json.dumps(result))

def wrk_ms(path):
    # "50%    2.71ms" lines of `wrk --latency`, and "Requests/sec".
    if not os.path.exists(path):
        return None
    text = open(path).read()
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    got = {}
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            got["p" + p] = float(m.group(1)) * unit[m.group(2)]
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        got["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        got["n"] = int(m.group(1))
    return got if "p50" in got else None

def summary(work, facts_path):
    facts = dict(line.rstrip("\n").split("=", 1) for line in open(facts_path) if "=" in line)
    size_mib = int(facts["size"]) / 2**20
    rows = [line.split() for line in open(os.path.join(work, "raw.tsv"))]
    lines = []
    say = lines.append
    say(f"Depot registry benchmark  {facts['date']}  ({facts['machine']})")
    say(f"build: {facts['rev']}   load average (1/5/15 min): " + "; ".join(
        f"{l.split()[0]} {' '.join(l.split()[1:])}" for l in open(os.path.join(work, "load.txt"))))
    say("")
    say(f"1. {size_mib:.0f} MiB artifact (model.pkl + pseudo-random), {facts['runs']} runs, median (min-max);"
        " same disk, page cache warm")
    if facts.get("bin_b"):
        say(f"   A = {facts['bin']}, B = {facts['bin_b']} (alternating, A first in odd runs)")
    say(f"   {'operation':<26}{'MiB/s, op alone':>22}{'MiB/s, op + sync':>22}{'% of cp':>9}{'peak RSS MiB':>14}{'server CPU s':>14}{'curl CPU s':>12}")
    peaks, polls = {}, {}
    phases = [("cp", "cp (same disk)"), ("upload", "upload  curl -F"), ("download", "download curl -o"),
              ("null", "download to /dev/null")]
    if facts.get("bin_b"):
        phases = [("cp", "cp (same disk)"), ("upload", "upload  A"), ("upload@B", "upload  B"),
                  ("download", "download A"), ("download@B", "download B"),
                  ("null", "to /dev/null A"), ("null@B", "to /dev/null B")]
    cp_median = statistics.median(int(x[2]) / 1e9 for x in rows if x[0] == "cp")
    for phase, label in phases:
        r = [x for x in rows if x[0] == phase]
        op = [int(x[2]) / 1e9 for x in r]
        ops = [int(x[3]) / 1e9 for x in r]
        rate = lambda ts: f"{size_mib / statistics.median(ts):7.0f} ({size_mib / max(ts):.0f}-{size_mib / min(ts):.0f})"
        hwm = [int(x[4]) for x in r if x[4] != "-"]
        poll = [int(x[5]) for x in r if x[5] != "-"]
        cpu = [float(x[6]) for x in r if x[6] != "-"]
        client = [float(x[7]) for x in r if len(x) > 7 and x[7] != "-"]
        peak = max(hwm) if hwm else (max(poll) if poll else None)
        peaks[phase] = peak
        polls[phase] = max(poll) if poll else 0
        share = f"{100 * cp_median / statistics.median(op):.0f}%"
        say(f"   {label:<26}{rate(op):>22}{rate(ops):>22}{share:>9}"
            f"{(f'{peak / 1024:.1f}' if peak else '-'):>14}{(f'{statistics.median(cpu):.2f}' if cpu else '-'):>14}"
            f"{(f'{statistics.median(client):.2f}' if client else '-'):>12}")
    target = 64 * 1024
    rss_ok = True
    for tag, key in (("", "rss_base"), ("@B", "rss_base_b")):
        if not facts.get(key):
            continue
        base = int(facts[key])
        name = "" if not facts.get("bin_b") else (" A" if not tag else " B")
        say(f"   server{name} RSS: baseline {base / 1024:.1f} MiB; growth during upload "
            f"{(peaks['upload' + tag] - base) / 1024:+.1f} MiB, during download {(peaks['download' + tag] - base) / 1024:+.1f} MiB"
            f" (peak = {facts['peak_method']}; polled max VmRSS upload {polls['upload' + tag] / 1024:.1f},"
            f" download {polls['download' + tag] / 1024:.1f} MiB)")
        rss_ok = rss_ok and max(peaks["upload" + tag], peaks["download" + tag]) - base < target
    say(f"   target RSS growth < 64 MiB: {'PASS' if rss_ok else 'FAIL'}")
    transfers = sum(1 for x in rows if x[0].startswith("download"))
    say("   (to /dev/null: the same download without curl writing the file: the server's own rate)")
    say(f"   sha256: file = upload digest = download = ETag in {facts['sha_ok']}/{transfers} transfers ({facts['sha'][:16]}...)")
    worst = 0.0
    if not os.path.exists(os.path.join(work, "seed.json")):
        say("")
        say("2. listing: skipped (BENCH_SKIP_LISTING)")
        print("\n".join(lines))
        with open(os.path.join(work, "targets"), "w") as f:
            f.write("ok\n" if rss_ok else "missed\n")
        return
    say("")
    seed = json.load(open(os.path.join(work, "seed.json")))
    say(f"2. listing: {facts['versions']} versions of one model ({seed['uploaded']} uploaded over HTTP by"
        f" {seed['parallel']} clients at {seed['rate']:.0f}/s"
        + (f", upload p50 {seed['latency_ms']['p50']:.1f} ms p99 {seed['latency_ms']['p99']:.1f} ms" if 'latency_ms' in seed else "")
        + f"; {facts['sql_rows']} cloned by SQL); {facts['requests']} sequential requests, 1 keep-alive connection")
    have_wrk = any(wrk_ms(os.path.join(work, f"wrk_{k}.txt")) for k in ("first", "model"))
    head = f"   {'request':<44}{'p50':>7}{'p90':>7}{'p99':>7}{'max':>7}{'bytes':>8}"
    if have_wrk:
        head += f"   wrk {facts['wrk_s']}s 1 conn: p50   p99   req/s"
    say(head + "   (ms)")
    for key, label in (("first", "GET versions?limit=50 (first page)"),
                       ("middle", f"GET versions?limit=50&cursor={facts['middle']}"),
                       ("last", "GET versions?limit=50&cursor=51 (last)"),
                       ("model", "GET /v1/models/NAME (counts versions)"),
                       ("healthz", "GET /healthz (HTTP floor)")):
        s = json.load(open(os.path.join(work, f"lat_{key}.json")))
        line = f"   {label:<44}{s['p50']:7.2f}{s['p90']:7.2f}{s['p99']:7.2f}{s['max']:7.1f}{s['bytes']:8d}"
        w = wrk_ms(os.path.join(work, f"wrk_{key}.txt"))
        if w:
            line += f"   {w['p50']:19.2f}{w.get('p99', float('nan')):6.2f}{w.get('rps', 0):8.0f}"
        say(line)
        if key != "healthz":
            worst = max(worst, s["p99"])
    walked = json.load(open(os.path.join(work, "walk.json")))
    say(f"   cursor walk: {walked['pages']} pages, {walked['versions']} versions in {walked['seconds']:.2f} s"
        f" ({'each version once, in order' if walked['ok'] else 'WRONG'})")
    say(f"   target p50 and p99 < 5 ms (listing and model): {'PASS' if worst < 5 else 'FAIL'} (worst p99 {worst:.2f} ms)")
    if facts.get("explain"):
        say(f"   database, last page (EXPLAIN ANALYZE): {facts['explain']}")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(work, "targets"), "w") as f:
        f.write("ok\n" if rss_ok and worst < 5 else "missed\n")

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sha":
        sha(args[0])
    elif cmd == "seed":
        seed(int(args[0]), args[1], int(args[2]), int(args[3]), float(args[4]), args[5], args[6])
    elif cmd == "lat":
        latency(int(args[0]), args[1], int(args[2]), int(args[3]), args[4])
    elif cmd == "walk":
        walk(int(args[0]), args[1], int(args[2]), args[3])
    elif cmd == "wrk":
        print(json.dumps(wrk_ms(args[0])))
    elif cmd == "summary":
        summary(args[0], args[1])
PY
bench() { "$py" "$work/bench.py" "$@"; }
port=${addr##*:}
facts="$work/facts"
: >"$facts"
fact() { echo "$1=$2" >>"$facts"; }

# --- warm-up and baseline --------------------------------------------------------------------
http -o /dev/null -f -X POST -H 'content-type: application/json' -d '{"name":"bench-big"}' "$base/v1/models"
http -o /dev/null -f -X POST -H 'content-type: application/json' -d '{"name":"bench-list"}' "$base/v1/models"
for _ in $(seq 1 20); do http -o /dev/null -f "$base/v1/models/bench-big"; done
rss_base_b=""
if [ -n "$server_b" ]; then
  server=$server_b
  for _ in $(seq 1 20); do http -o /dev/null -f "$base_b/v1/models/bench-big"; done
  sleep 1
  rss_base_b=$(status_kib VmRSS)
  log "baseline RSS of B $((rss_base_b / 1024)) MiB"
  server=$server_a
fi
sleep 1
rss_base=$(status_kib VmRSS)
log "baseline RSS $((rss_base / 1024)) MiB"

# --- 1. large artifact -----------------------------------------------------------------------
src="$work/artifact.bin"
log "writing the ${BENCH_ARTIFACT_MIB} MiB artifact"
if command -v openssl >/dev/null; then
  { cat "$pkl"; openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:depot-bench </dev/zero 2>/dev/null; } |
    head -c "$size" >"$src" || true
else
  { cat "$pkl"; cat /dev/urandom; } 2>/dev/null | head -c "$size" >"$src" || true
fi
[ "$(stat -c %s "$src")" -eq "$size" ] || die "could not write $size bytes to $src"
sync
sha=$(bench sha "$src")
log "artifact sha256 $sha"

: >"$work/raw.tsv"
sha_ok=0
poll_upload=0
poll_download=0
peak_kib() { if [ "$hwm_reset" = 1 ]; then status_kib VmHWM; else echo -; fi; }
# transfer RUN TAG: upload then download the artifact through the server in $server/$base,
# checks the digests, deletes the version (so the next upload stores a new blob). TAG ("" for
# DEPOT_BIN, "@B" for BENCH_COMPARE_BIN) is appended to the phase names in raw.tsv.
transfer() {
  local run=$1 tag=$2 code poll hwm cpu version digest got etag c0 c1 t0 t1 t2
  log "run $run/$BENCH_RUNS: upload$tag"
  reset_peak || true
  start_sampler
  c0=$(cpu_ticks)
  t0=$(now_ns)
  code=$(timed "$work/client.time" curl -sS --max-time 600 -o "$work/upload.json" -w '%{http_code}' \
    -F 'metadata={"description":"bench-registry large upload","tags":["bench"]}' \
    -F "artifact=@$src;type=application/octet-stream" "$base/v1/models/bench-big/versions")
  t1=$(now_ns)
  c1=$(cpu_ticks)
  sync
  t2=$(now_ns)
  poll=$(stop_sampler)
  hwm=$(peak_kib)
  [ "$code" = 201 ] || { cat "$work/upload.json" >&2; die "upload answered HTTP $code"; }
  [ -z "$tag" ] && [ "$poll" -gt "$poll_upload" ] && poll_upload=$poll
  cpu=$(awk -v a="$c0" -v b="$c1" -v k="$clk" 'BEGIN { printf "%.2f", (b - a) / k }')
  printf 'upload%s %s %s %s %s %s %s %s\n' "$tag" "$run" $((t1 - t0)) $((t2 - t0)) "$hwm" "$poll" "$cpu" \
    "$(client_cpu "$work/client.time")" >>"$work/raw.tsv"
  version=$(jget "$work/upload.json" version)
  digest=$(jget "$work/upload.json" digest)
  [ "$(jget "$work/upload.json" size_bytes)" = "$size" ] || die "upload reported another size"

  log "run $run/$BENCH_RUNS: download$tag"
  rm -f "$work/download.bin"
  sync
  reset_peak || true
  start_sampler
  c0=$(cpu_ticks)
  t0=$(now_ns)
  code=$(timed "$work/client.time" curl -sS --max-time 600 -D "$work/download.headers" -o "$work/download.bin" \
    -w '%{http_code}' "$base/v1/models/bench-big/versions/$version/artifact")
  t1=$(now_ns)
  c1=$(cpu_ticks)
  sync
  t2=$(now_ns)
  poll=$(stop_sampler)
  hwm=$(peak_kib)
  [ "$code" = 200 ] || die "download answered HTTP $code"
  [ -z "$tag" ] && [ "$poll" -gt "$poll_download" ] && poll_download=$poll
  cpu=$(awk -v a="$c0" -v b="$c1" -v k="$clk" 'BEGIN { printf "%.2f", (b - a) / k }')
  printf 'download%s %s %s %s %s %s %s %s\n' "$tag" "$run" $((t1 - t0)) $((t2 - t0)) "$hwm" "$poll" "$cpu" \
    "$(client_cpu "$work/client.time")" >>"$work/raw.tsv"
  got=$(bench sha "$work/download.bin")
  etag=$(tr -d '\r"' <"$work/download.headers" | awk 'tolower($1) == "etag:" { print $2 }')
  if [ "$got" = "$sha" ] && [ "$digest" = "sha256:$sha" ] && [ "$etag" = "sha256:$sha" ]; then
    sha_ok=$((sha_ok + 1))
  else
    die "digests differ: file $sha, upload $digest, download $got, ETag $etag"
  fi
  rm -f "$work/download.bin"
  sync

  # The same download into /dev/null: what the server sends, without curl's writing to a file.
  log "run $run/$BENCH_RUNS: download$tag to /dev/null"
  c0=$(cpu_ticks)
  t0=$(now_ns)
  code=$(timed "$work/client.time" curl -sS --max-time 600 -o /dev/null -w '%{http_code}' \
    "$base/v1/models/bench-big/versions/$version/artifact")
  t1=$(now_ns)
  c1=$(cpu_ticks)
  [ "$code" = 200 ] || die "download to /dev/null answered HTTP $code"
  cpu=$(awk -v a="$c0" -v b="$c1" -v k="$clk" 'BEGIN { printf "%.2f", (b - a) / k }')
  printf 'null%s %s %s %s - - %s %s\n' "$tag" "$run" $((t1 - t0)) $((t1 - t0)) "$cpu" \
    "$(client_cpu "$work/client.time")" >>"$work/raw.tsv"
  code=$(http -o /dev/null -w '%{http_code}' -X DELETE "$base/v1/models/bench-big/versions/$version")
  [ "$code" = 204 ] || die "delete answered HTTP $code"
}
for run in $(seq 1 "$BENCH_RUNS"); do
  log "run $run/$BENCH_RUNS: cp"
  rm -f "$work/copy.bin"
  sync
  t0=$(now_ns)
  cp "$src" "$work/copy.bin"
  t1=$(now_ns)
  sync
  t2=$(now_ns)
  printf 'cp %s %s %s - - - -\n' "$run" $((t1 - t0)) $((t2 - t0)) >>"$work/raw.tsv"
  rm -f "$work/copy.bin"
  sync

  if [ -z "$server_b" ]; then
    transfer "$run" ""
  elif [ $((run % 2)) = 1 ]; then
    server=$server_a base=$base_a; transfer "$run" ""
    server=$server_b base=$base_b; transfer "$run" "@B"
  else
    server=$server_b base=$base_b; transfer "$run" "@B"
    server=$server_a base=$base_a; transfer "$run" ""
  fi
  server=$server_a base=$base_a
done
rm -f "$src"
loadavg "after-artifacts"
{ echo "== raw: phase run op_ns op+sync_ns VmHWM_kiB polled_VmRSS_kiB server_cpu_s client_cpu_s"; cat "$work/raw.tsv"; } >>"$details"

# --- 2. listing ------------------------------------------------------------------------------
seed_hwm=- list_hwm=- sql_rows=0 middle=0 explain=""
if [ -z "${BENCH_SKIP_LISTING:-}" ]; then
model=bench-list
log "registering $BENCH_VERSIONS versions over HTTP ($BENCH_SEED_PARALLEL clients, at most ${BENCH_SEED_S} s)"
reset_peak || true
bench seed "$port" "$model" "$BENCH_VERSIONS" "$BENCH_SEED_PARALLEL" "$BENCH_SEED_S" "$onnx" "$work/seed.json" >>"$details"
seed_hwm=$(peak_kib)
have=$(psql "$BENCH_PG/$db" -qAtc "SELECT count(*) FROM versions v JOIN models m ON m.id = v.model_id WHERE m.name = '$model'")
[ "$have" -ge 1 ] || die "no version was uploaded: $(cat "$work/seed.json")"
sql_rows=$((BENCH_VERSIONS - have))
if [ "$sql_rows" -gt 0 ]; then
  log "filling in $sql_rows versions by SQL (clones of the last row the server wrote)"
  psql "$BENCH_PG/$db" -qAt -v ON_ERROR_STOP=1 -v model="$model" -v total="$BENCH_VERSIONS" >>"$details" <<'SQL'
BEGIN;
CREATE TEMP TABLE tmpl ON COMMIT DROP AS
  SELECT v.* FROM versions v JOIN models m ON m.id = v.model_id WHERE m.name = :'model'
  ORDER BY v.version DESC LIMIT 1;
CREATE TEMP TABLE newv ON COMMIT DROP AS
  SELECT n, encode(sha256(convert_to('depot-bench-sql-' || n, 'UTF8')), 'hex') AS d
  FROM generate_series((SELECT version + 1 FROM tmpl), (SELECT version FROM tmpl) + :total - (
    SELECT count(*) FROM versions WHERE model_id = (SELECT model_id FROM tmpl))) AS n;
INSERT INTO artifacts (digest, size_bytes) SELECT d, (SELECT size_bytes FROM tmpl) FROM newv;
-- Every column of the template row (whatever the schema has grown), with a new number and digest.
INSERT INTO versions
  SELECT (jsonb_populate_record(NULL::versions, to_jsonb(t) || jsonb_build_object(
    'version', n, 'digest', d,
    'created_at', t.created_at + (n - t.version) * interval '1 ms',
    'updated_at', t.updated_at + (n - t.version) * interval '1 ms'))).*
  FROM tmpl t, newv;
INSERT INTO audit_log (at, actor, action, model, version, reason, details)
  SELECT a.at + (n - a.version) * interval '1 ms', a.actor, a.action, a.model, n, a.reason,
         jsonb_set(a.details, '{digest}', to_jsonb('sha256:' || d))
  FROM audit_log a, tmpl t, newv
  WHERE a.model = :'model' AND a.action = 'version.create' AND a.version = t.version;
UPDATE models SET next_version = (SELECT max(n) + 1 FROM newv), updated_at = now() WHERE name = :'model';
COMMIT;
SQL
fi
psql "$BENCH_PG/$db" -qAtc 'VACUUM (ANALYZE) versions, artifacts, models, audit_log' >/dev/null
count=$(http "$base/v1/models/$model" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["version_count"])')
[ "$count" = "$BENCH_VERSIONS" ] || die "the model has $count versions, not $BENCH_VERSIONS"
loadavg "after-seeding"

log "walking every page"
bench walk "$port" "$model" "$BENCH_VERSIONS" "$work/walk.json" >>"$details"
[ "$(jget "$work/walk.json" ok)" = True ] || die "the cursor walk did not see each version once, in order"

middle=$((BENCH_VERSIONS / 2))
declare -A paths=(
  [first]="/v1/models/$model/versions?limit=50"
  [middle]="/v1/models/$model/versions?limit=50&cursor=$middle"
  [last]="/v1/models/$model/versions?limit=50&cursor=51"
  [model]="/v1/models/$model"
  [healthz]="/healthz"
)
reset_peak || true
for key in first middle last model healthz; do
  log "latency: GET ${paths[$key]} x $BENCH_REQUESTS"
  bench lat "$port" "${paths[$key]}" "$BENCH_REQUESTS" 50 "$work/lat_$key.json"
  if command -v wrk >/dev/null; then
    wrk -t1 -c1 -d"${BENCH_WRK_S}s" --timeout 5s --latency "$base${paths[$key]}" >"$work/wrk_$key.txt" 2>&1 || true
    { echo "== wrk ${paths[$key]}"; cat "$work/wrk_$key.txt"; } >>"$details"
  fi
done
list_hwm=$(peak_kib)
loadavg "after-latency"

# Where the listing query's time goes in PostgreSQL: the server's query, last page, with the plan
# PostgreSQL chooses per call (custom) and the one it may cache after five calls (generic).
explain=""
{
  echo "== EXPLAIN ANALYZE of the listing query (copied from crates/catalog/src/versions.rs)"
  psql "$BENCH_PG/$db" -v model="$model" <<'SQL'
PREPARE q(bigint, int, bigint) AS
  SELECT m.name AS model, v.version, v.digest, v.size_bytes, v.format, v.servable,
         v.unservable_reason, v.signature, v.onnx, v.metadata, v.description, v.tags, v.created_at,
         v.created_by, v.updated_at
  FROM versions v JOIN models m ON m.id = v.model_id
  WHERE v.model_id = $1 AND ($2::int IS NULL OR v.version < $2) ORDER BY v.version DESC LIMIT $3;
SELECT id AS model_id FROM models WHERE name = :'model' \gset
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q(:model_id, 51, 51);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q(:model_id, 51, 51);
RESET plan_cache_mode;
EXPLAIN (ANALYZE, BUFFERS)
  SELECT (SELECT count(*) FROM versions v WHERE v.model_id = m.id) AS version_count,
         (SELECT max(version) FROM versions v WHERE v.model_id = m.id) AS latest_version
  FROM models m WHERE m.name = :'model';
SQL
} >"$work/explain.txt" 2>&1 || true
cat "$work/explain.txt" >>"$details"
explain=$("$py" - "$work/explain.txt" <<'PY' || true
import re, sys
text = open(sys.argv[1]).read()
times = re.findall(r"Execution Time: ([\d.]+) ms", text)
blocks = re.split(r"Execution Time: [\d.]+ ms", text)
removed = [sum(map(int, re.findall(r"Rows Removed by Filter: (\d+)", b))) for b in blocks]
if len(times) >= 3:
    print(f"custom plan {float(times[0]):.2f} ms (filters out {removed[0]} rows), generic plan"
          f" {float(times[1]):.2f} ms (filters out {removed[1]} rows); version count {float(times[2]):.2f} ms")
PY
)

fi

# --- summary ---------------------------------------------------------------------------------
loadavg end
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(free -h | awk '/^Mem:/ { print $2 }')
disk=$(findmnt -no SOURCE,FSTYPE --target "$root" | tr -s ' ' | tr ' ' '/')
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed paths"
fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fact machine "$(nproc) CPUs $cpu_model, $mem RAM, disk $disk"
fact rev "$rev"
fact size "$size"
fact runs "$BENCH_RUNS"
fact rss_base "$rss_base"
fact rss_base_b "$rss_base_b"
fact bin "$bin"
fact bin_b "${BENCH_COMPARE_BIN:-}"
fact peak_method "$([ "$hwm_reset" = 1 ] && echo 'VmHWM reset before each operation' || echo 'polled VmRSS')"
fact poll_upload "$poll_upload"
fact poll_download "$poll_download"
fact sha_ok "$sha_ok"
fact sha "$sha"
fact versions "$BENCH_VERSIONS"
fact sql_rows "$sql_rows"
fact requests "$BENCH_REQUESTS"
fact middle "$middle"
fact wrk_s "$BENCH_WRK_S"
fact explain "$explain"
bench summary "$work" "$facts" | tee "$out/summary.txt"
[ -n "${BENCH_SKIP_LISTING:-}" ] || {
  echo "   server peak RSS while seeding: $([ "$seed_hwm" = - ] && echo - || echo "$((seed_hwm / 1024)) MiB");" \
    "during the latency loops: $([ "$list_hwm" = - ] && echo - || echo "$((list_hwm / 1024)) MiB")"
} | tee -a "$out/summary.txt"
{ echo "== summary"; cat "$out/summary.txt"; } >>"$details"
log "summary in $out/summary.txt, details in $details"
if [ -n "${BENCH_STRICT:-}" ] && [ "$(cat "$work/targets")" != ok ]; then
  exit 3
fi
