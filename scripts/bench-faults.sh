#!/usr/bin/env bash
# Reliability figures on a release build (BENCHMARKS.md, "Faults"):
#   1. baseline: `tiny` (deployed) under wrk, concurrency 8, for OUTAGE_TOTAL seconds, with the
#      database up: requests, failures, p50, p99.
#   2. outage: the same load while the database is stopped for OUTAGE seconds (from second 5):
#      the same figures, plus /readyz during the outage.
#   3. drain: SIGTERM under the same load; the load runs on for DRAIN_LOAD seconds (less than
#      the grace, as a load balancer would stop sending once /readyz says 503): failures, and
#      the time from SIGTERM to the process's exit.
# The database is a PostgreSQL cluster of the script's own on a free port (the shared one keeps
# running); initdb and pg_ctl run as the `postgres` user. Everything is removed on exit.
#
# Environment: OUTAGE=10 OUTAGE_TOTAL=20 DRAIN_GRACE=3 DRAIN_LOAD=2 CONCURRENCY=8
#   SKIP_BUILD=1 (use target/release/depot, or BENCH_DEPOT_BIN)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUTAGE=${OUTAGE:-10}
OUTAGE_TOTAL=${OUTAGE_TOTAL:-20}
DRAIN_GRACE=${DRAIN_GRACE:-3}
DRAIN_LOAD=${DRAIN_LOAD:-2}
CONCURRENCY=${CONCURRENCY:-8}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
ort_library=$(scripts/fetch-onnxruntime.sh)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked --workspace --bin depot >&2
fi
depot=${BENCH_DEPOT_BIN:-$root/target/release/depot}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-faults.XXXXXX")
chown postgres:postgres "$tmp"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
as_postgres() { su postgres -s /bin/sh -c "$1"; }
pg_start() { as_postgres "$pgbin/pg_ctl -D $tmp/pg -o '-p $pgport -k $tmp -c listen_addresses=127.0.0.1' -l $tmp/pg.log -w start >/dev/null"; }
pg_stop() { as_postgres "$pgbin/pg_ctl -D $tmp/pg -m fast -w stop >/dev/null"; }
server=""
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  as_postgres "$pgbin/pg_ctl -D $tmp/pg -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
as_postgres "$pgbin/initdb -D $tmp/pg -U postgres --auth=trust >/dev/null"
pg_start

start_server() { # extra env assignments...
  port=$(free_port)
  base="http://127.0.0.1:$port"
  env DEPOT_SERVER__LISTEN="127.0.0.1:$port" DEPOT_GRPC__LISTEN=127.0.0.1:0 DEPOT_SERVER__WORKERS=1 \
    DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:$pgport/depot_bench" \
    DEPOT_DATABASE__ACQUIRE_TIMEOUT_MS=1000 \
    DEPOT_STORAGE__URL="$tmp/artifacts" DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" \
    DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$tmp/admin-token" RUST_LOG=warn "$@" \
    "$depot" serve >>"$tmp/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  cat "$tmp/server.log" >&2
  exit 1
}
load() { # seconds -> RESULT line
  DEPOT_TOKEN=$token BODY_FILE=scripts/bench/tiny.v1.json \
    wrk -t1 -c"$CONCURRENCY" -d"$1" --latency -s scripts/bench/request.lua "$base/v1/models/tiny/predict" | grep '^RESULT'
}
report() { # label RESULT-line
  local line=$2 get
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  printf '%-9s requests=%-8s failed=%-6s p50=%sus p99=%sus max=%sus\n' "$1" "$(get requests)" \
    "$(($(get non2xx) + $(get connect) + $(get read) + $(get write) + $(get timeout)))" \
    "$(get p50_us)" "$(get p99_us)" "$(get max_us)"
}

start_server
token=$(cat "$tmp/admin-token")
auth=(-H "Authorization: Bearer $token")
curl -fsS "${auth[@]}" -X POST "$base/v1/models" -H 'content-type: application/json' -d '{"name":"tiny"}' >/dev/null
curl -fsS "${auth[@]}" -F "artifact=@tests/fixtures/tiny.onnx" "$base/v1/models/tiny/versions" >/dev/null
curl -fsS "${auth[@]}" -X PUT "$base/v1/models/tiny/deployment" -H 'content-type: application/json' -d '{"version":1}' >/dev/null
load 2s >/dev/null # warm-up

echo "== $(date -u +%FT%TZ) $(nproc) cores; tiny deployed; wrk -c$CONCURRENCY; outage ${OUTAGE}s of ${OUTAGE_TOTAL}s"
report baseline "$(load "${OUTAGE_TOTAL}s")"
load "${OUTAGE_TOTAL}s" >"$tmp/outage.result" &
wrk_pid=$!
sleep 5
pg_stop
sleep 1
ready=$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")
registry=$(curl -s -o /dev/null -w '%{http_code} in %{time_total}s' "${auth[@]}" "$base/v1/models/tiny")
sleep $((OUTAGE - 1))
pg_start
wait "$wrk_pid"
report outage "$(cat "$tmp/outage.result")"
echo "          during the outage: /readyz $ready; GET /v1/models/tiny $registry"

kill -TERM "$server" 2>/dev/null
wait "$server" 2>/dev/null || true
start_server DEPOT_SERVER__DRAIN_GRACE_S="$DRAIN_GRACE"
load 1s >/dev/null
load "${DRAIN_LOAD}s" >"$tmp/drain.result" &
wrk_pid=$!
sleep 0.3
signalled=$(date +%s.%N)
kill -TERM "$server"
wait "$server" && code=0 || code=$?
exited=$(date +%s.%N)
wait "$wrk_pid"
report drain "$(cat "$tmp/drain.result")"
echo "          SIGTERM to exit: $(python3 -c "print(f'{$exited - $signalled:.2f}')") s (grace ${DRAIN_GRACE} s), exit status $code"
server=""
