#!/usr/bin/env bash
# Deployment benchmark: how fast a deployment change reaches another replica, and whether a
# server's memory stays flat across many deploy/rollback cycles.
#
# Builds release; makes a fresh database (depot_bench_<random>) and a temporary artifact
# directory; registers model `iris` with tests/fixtures/sklearn_logreg.onnx (v1) and
# sklearn_forest.onnx (v2) (same signature: X FP32 [-1,4]); then
#   1. propagation: starts TWO `depot serve` replicas (A, B) on that database and directory,
#      deploys v2/v1 alternately through A ROUNDS times while B's version-less predict is polled
#      back to back (scripts/bench/deployments.py propagation); reports the delay from A's PUT
#      returning to B's first answer served by the new version (min/p50/p90/max; target: each
#      within 1 s) and B's non-200 answers over the whole run (target: 0);
#   2. memory: starts one fresh replica and, under a light background load of version-less
#      predictions (LOAD_RATE/s), runs CYCLES cycles of PUT deployment v2 + POST rollback (one per
#      CYCLE_INTERVAL s at most), sampling the server's VmRSS (/proc/PID/status) after warm-up,
#      every SAMPLE_EVERY cycles and at the end (target: flat from cycle 10 to the end, a few MiB at most; 0 failed
#      predictions).
# Everything is removed on exit (servers, database, temporary files). Loopback only.
#
# Settings (environment):
#   ROUNDS=50  CYCLES=100  SAMPLE_EVERY=10  WARMUP_CYCLES=5  LOAD_RATE=50
#   CYCLE_INTERVAL=0.1  a deploy/rollback cycle starts at most this often (seconds)
#   ROUND_TIMEOUT=5   seconds a round waits for B before counting it as missed
#   RESOLVE_TTL_MS    serving.resolve_ttl_ms of every replica (default: the server's, 1000 ms). The
#                     TTL alone bounds staleness, so a large value (e.g. 600000) isolates what
#                     LISTEN/NOTIFY delivers
#   SKIP_BUILD=1      use the binary already built (BENCH_DEPOT_BIN: another copy of target/release/depot)
#   RESULTS=DIR       also write the raw results there (propagation.json, rss.json, server logs)
#   MAX_SECONDS=420   limit of each measurement phase after the build
#   BUILD_TIMEOUT=900
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ROUNDS=${ROUNDS:-50}
CYCLES=${CYCLES:-100}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
WARMUP_CYCLES=${WARMUP_CYCLES:-5}
LOAD_RATE=${LOAD_RATE:-50}
CYCLE_INTERVAL=${CYCLE_INTERVAL:-0.1}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-5}
MAX_SECONDS=${MAX_SECONDS:-420}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
model=iris

for tool in curl psql; do
  command -v "$tool" >/dev/null || { echo "bench-deployments: $tool is required" >&2; exit 1; }
done
if [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; else python=$(command -v python3); fi
helper="$root/scripts/bench/deployments.py"

# --- build ---------------------------------------------------------------------------------
scripts/ensure-postgres.sh
ort_library=$(scripts/fetch-onnxruntime.sh)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release)" >&2
  timeout "$BUILD_TIMEOUT" cargo build --release --locked -p depot >&2
fi
depot=${BENCH_DEPOT_BIN:-$root/target/release/depot}
[ -x "$depot" ] || { echo "bench-deployments: build $depot first" >&2; exit 1; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- servers -------------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench-deploy.XXXXXX")
db="depot_bench_$(date +%s)_$RANDOM"
declare -A pids=()
stop_server() { # name
  local pid=${pids[$1]:-}
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  unset "pids[$1]"
}
cleanup() {
  local name
  for name in "${!pids[@]}"; do stop_server "$name"; done
  if [ -n "${RESULTS:-}" ]; then mkdir -p "$RESULTS" && cp "$tmp"/*.json "$tmp"/*.log "$RESULTS"/ 2>/dev/null || true; fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/artifacts"
# A private copy, so that a rebuild of target/ during the run does not change the servers.
cp "$depot" "$tmp/depot"
depot="$tmp/depot"

# Starts a replica on a free loopback port (port 0) and sets base_<name> from the address it
# prints on stdout.
start_server() { # name
  local name=$1 address="" extra_env=()
  [ -n "${RESOLVE_TTL_MS:-}" ] && extra_env+=("DEPOT_SERVING__RESOLVE_TTL_MS=$RESOLVE_TTL_MS")
  # Authentication off: these figures are the deployments' (scripts/bench-auth.sh measures tokens).
  DEPOT_AUTH__MODE=off \
  DEPOT_SERVER__LISTEN=127.0.0.1:0 DEPOT_GRPC__LISTEN=127.0.0.1:0 \
  DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" \
  DEPOT_STORAGE__URL="$tmp/artifacts" \
  DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" \
  RUST_LOG=${RUST_LOG:-warn} \
    env "${extra_env[@]}" "$depot" serve >"$tmp/$name.out.log" 2>"$tmp/$name.err.log" &
  pids[$name]=$!
  for _ in $(seq 1 600); do
    address=$(sed -n 's|^Depot listening on http://\([^ ]*\).*|\1|p' "$tmp/$name.out.log" | head -n 1)
    [ -n "$address" ] && break
    kill -0 "${pids[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$address" ]; then
    cat "$tmp/$name.out.log" "$tmp/$name.err.log" >&2
    echo "bench-deployments: server $name did not start" >&2
    exit 1
  fi
  printf -v "base_$name" 'http://%s' "$address"
  curl -fsS "http://$address/healthz" >/dev/null
}

predict_body='{"inputs":{"X":[[5.9,3.0,5.1,1.8]]}}'
warm() { # base: loads and warms both versions on that replica
  local v
  for v in 1 2; do
    curl -fsS "$1/v1/models/$model/versions/$v/predict" -H 'content-type: application/json' -d "$predict_body" \
      | grep -q "\"version\":$v" || { echo "bench-deployments: version $v does not serve on $1" >&2; exit 1; }
  done
}

# A first (it creates and migrates the database), then B on the same database and directory.
echo "== starting replicas A and B" >&2
start_server a
start_server b
curl -fsS -X POST "$base_a/v1/models" -H 'content-type: application/json' -d "{\"name\":\"$model\"}" >/dev/null
curl -fsS -F artifact=@tests/fixtures/sklearn_logreg.onnx "$base_a/v1/models/$model/versions" | grep -q '"version":1'
curl -fsS -F artifact=@tests/fixtures/sklearn_forest.onnx "$base_a/v1/models/$model/versions" | grep -q '"version":2'
curl -fsS -X PUT "$base_a/v1/models/$model/deployment" -H 'content-type: application/json' -d '{"version":1}' >/dev/null
warm "$base_a"
warm "$base_b"
# B serves the deployment (v1) before the measurements start.
for _ in $(seq 1 50); do
  curl -fsS -D - -o /dev/null "$base_b/v1/models/$model/predict" -H 'content-type: application/json' \
    -d "$predict_body" | grep -qi "^depot-served-by: $model/1" && break
  sleep 0.1
done

# --- 1. propagation ------------------------------------------------------------------------
echo "== propagation: $ROUNDS deploys through A, B polled back to back" >&2
timeout "$MAX_SECONDS" "$python" "$helper" propagation --a "$base_a" --b "$base_b" --model "$model" \
  --rounds "$ROUNDS" --from 1 --to 2 --timeout "$ROUND_TIMEOUT" >"$tmp/propagation.json" 2>"$tmp/propagation.txt"
stop_server b
stop_server a

# --- 2. memory across deploy/rollback cycles ----------------------------------------------
echo "== memory: $CYCLES deploy/rollback cycles on a fresh replica under ~$LOAD_RATE predictions/s" >&2
start_server c
warm "$base_c"
curl -fsS -X PUT "$base_c/v1/models/$model/deployment" -H 'content-type: application/json' -d '{"version":1}' >/dev/null
timeout "$MAX_SECONDS" "$python" "$helper" rss --url "$base_c" --pid "${pids[c]}" --model "$model" \
  --cycles "$CYCLES" --every "$SAMPLE_EVERY" --warmup "$WARMUP_CYCLES" --rate "$LOAD_RATE" --interval "$CYCLE_INTERVAL" --from 1 --to 2 \
  >"$tmp/rss.json" 2>"$tmp/rss.txt"
stop_server c

# --- report --------------------------------------------------------------------------------
for name in a b c; do
  if grep -qiE 'error|panic' "$tmp/$name.err.log"; then
    echo "bench-deployments: server $name logged errors:" >&2
    grep -iE 'error|panic' "$tmp/$name.err.log" | head -n 10 >&2
  fi
done
echo
echo "Depot deployment benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
  "$(free -h | awk '/^Mem:/ {print $2 " RAM"}'); load average: $load_start (start), $(cut -d' ' -f1-3 /proc/loadavg) (end)"
echo "source: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
echo "servers: defaults (workers = cores, sessions_per_version=4), resolve_ttl_ms=${RESOLVE_TTL_MS:-1000}, RUST_LOG=${RUST_LOG:-warn};" \
  "model $model v1 sklearn_logreg.onnx, v2 sklearn_forest.onnx"
echo
cat "$tmp/propagation.txt"
echo
cat "$tmp/rss.txt"
echo
"$python" - "$tmp/propagation.json" "$tmp/rss.json" "$SAMPLE_EVERY" "$CYCLES" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2])); every, cycles = sys.argv[3], sys.argv[4]
ok1 = p["measured"] == p["rounds"] and p["over_1s"] == 0
print(f"(1) every deploy on B within 1 s: {'MET' if ok1 else 'NOT MET'} (max {p['delay_ms']['max']:.1f} ms,"
      f" {p['over_1s']} over 1 s, {p['missed']} missed); B non-200: {p['b_non200']}"
      f" ({'MET' if p['b_non200'] == 0 else 'NOT MET'})")
growth = r[f"growth_kib_cycle_{every}_to_{cycles}"] / 1024
ok2 = growth <= 4
print(f"(2) RSS growth cycle {every} -> {cycles}: {growth:+.2f} MiB (target: a few MiB at most, <= 4):"
      f" {'MET' if ok2 else 'NOT MET'}; failed predictions: {r['predictions_failed']}"
      f" ({'MET' if r['predictions_failed'] == 0 else 'NOT MET'}); failed deploys/rollbacks: {r['cycle_failures']}")
EOF
