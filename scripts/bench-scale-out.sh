#!/usr/bin/env bash
# Scale-out benchmark: `depot serve` replicas on one database and one S3 bucket (moto) behind
# HAProxy (health check GET /readyz), under constant prediction load (wrk) through HAProxy,
# through the phases that crates/depot/tests/scale_out.rs asserts:
#   steady           three replicas, nothing happens
#   rolling restart  SIGTERM r1, r2, r3 in turn; each drains, exits, starts again on its port,
#                    and the next is stopped once HAProxy has the previous one back up
#   deploy/rollback  deploy v2, deploy v3, roll back (to v2) through r1 directly; after each,
#                    every replica is asked directly, in turn, until it serves the new version
#                    (scripts/bench/propagation.py: kept-alive connections, ~1 ms a probe)
#   cold join        r4 (in HAProxy's configuration from the start, down until its health check
#                    passes) starts cold and joins
#   sigkill          kill -9 r2; wrk stops as soon as HAProxy shows r2 down
#   after kill       the three survivors, for AFTER_S
#
# Run:  scripts/bench-scale-out.sh            (builds release: cargo build --release --locked
#                                              --workspace --bin depot, ~7 min on 2 cores cold)
#       BENCH_DEPOT_BIN=target/debug/depot scripts/bench-scale-out.sh    (no build)
#       SKIP_BUILD=1 scripts/bench-scale-out.sh  (the target/release/depot already there)
# Needs PostgreSQL (scripts/ensure-postgres.sh starts it), haproxy and wrk (Debian's packages,
# installed here when missing), curl, python3, and an S3-compatible server: DEPOT_TEST_S3_ENDPOINT
# if set (as scripts/test.sh exports), else a moto server started here from .venv
# (scripts/setup-python.sh).
#
# Prints, per phase: requests, failures (wrk's non-2xx + socket errors, by kind), req/s, p50 and
# p99 in ms, and the answers by replica and version; then the events: SIGTERM -> HAProxy DOWN,
# restart -> UP, each deployment change -> served by all three (ms, per replica), cold start ->
# UP, SIGKILL -> DOWN. Expected: 0 failures in every phase but "sigkill", where at most what was
# in flight on r2 may fail (with RETRY_ON's default, HAProxy replays a prediction that got no
# answer on another replica, so usually 0 there too; RETRY_ON=conn-failure shows the raw count).
#
# Settings (environment):
#   CONNECTIONS=32 THREADS=2   wrk's load (constant: every connection loops requests)
#   STEADY_S=10 AFTER_S=5      the lengths of the phases with no event
#   SETTLE_S=2                 load kept on after each event (deploy, join) before the next
#   DRAIN_GRACE_S=3            server.drain_grace_s of every replica
#   WORKERS=1                  server.workers of every replica
#   RETRY_ON="conn-failure empty-response"   HAProxy's retry-on for predictions
#   CHECK_INTER=200ms          HAProxy's health-check interval (fall 1, rise 1)
# Everything started here is stopped on exit (replicas, HAProxy, wrk, moto), the database is
# dropped and the temporary directory removed; the bucket lives in moto's memory. Loopback only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bench="$root/scripts/bench"

CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
STEADY_S=${STEADY_S:-10}
AFTER_S=${AFTER_S:-5}
SETTLE_S=${SETTLE_S:-2}
DRAIN_GRACE_S=${DRAIN_GRACE_S:-3}
WORKERS=${WORKERS:-1}
RETRY_ON=${RETRY_ON:-conn-failure empty-response}
CHECK_INTER=${CHECK_INTER:-200ms}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || true
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] ||
  { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; } || true
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
for tool in wrk "$haproxy" curl psql python3; do
  command -v "$tool" >/dev/null || { echo "bench-scale-out: $tool is required" >&2; exit 1; }
done

# --- build ---------------------------------------------------------------------------------
scripts/ensure-postgres.sh
ort_library=$(scripts/fetch-onnxruntime.sh)
if [ -z "${BENCH_DEPOT_BIN:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release)" >&2
  cargo build --release --locked --workspace --bin depot >&2
fi
depot=${BENCH_DEPOT_BIN:-$root/target/release/depot}
[ -x "$depot" ] || { echo "bench-scale-out: $depot is missing: build it first" >&2; exit 1; }

# --- clean-up ------------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-scale-out.XXXXXX")
db="depot_bench_$(date +%s)_$RANDOM"
declare -a pids=("" "" "" "" "")
haproxy_pid="" wrk_pid="" moto_pid=""
stop_pid() { # pid: TERM, then KILL after 5 s
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}
cleanup() {
  set +e
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
  for pid in "${pids[@]}"; do [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; done
  for pid in "${pids[@]}" "$haproxy_pid" "$moto_pid"; do stop_pid "$pid"; done
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# --- S3 ------------------------------------------------------------------------------------
if [ -n "${DEPOT_TEST_S3_ENDPOINT:-}" ]; then
  s3=$DEPOT_TEST_S3_ENDPOINT
else
  scripts/setup-python.sh >&2
  moto_port=$(free_port)
  .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$tmp/moto.log" 2>&1 &
  moto_pid=$!
  s3="http://127.0.0.1:$moto_port"
  for _ in $(seq 1 50); do curl -fsS "$s3/" >/dev/null 2>&1 && break; sleep 0.2; done
fi
bucket="depot-scale-$(date +%s)-$RANDOM"
curl -fsS -X PUT "$s3/$bucket" >/dev/null

# --- replicas ------------------------------------------------------------------------------
declare -a ports=("" "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)")
frontend=$(free_port)
stats_port=$(free_port)
lb="http://127.0.0.1:$frontend"
stats="http://127.0.0.1:$stats_port/stats;csv"
direct() { echo "http://127.0.0.1:${ports[$1]}"; }

start_replica() { # index (1-4): starts it and waits until it listens
  local i=$1
  DEPOT_SERVER__LISTEN="127.0.0.1:${ports[$i]}" DEPOT_GRPC__LISTEN=127.0.0.1:0 \
  DEPOT_SERVER__WORKERS="$WORKERS" \
  DEPOT_SERVER__DRAIN_GRACE_S="$DRAIN_GRACE_S" \
  DEPOT_SERVER__SHUTDOWN_TIMEOUT_S=10 \
  DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" \
  DEPOT_STORAGE__URL="s3://$bucket/depot" \
  DEPOT_STORAGE__OPTIONS__ENDPOINT="$s3" \
  DEPOT_STORAGE__OPTIONS__REGION=us-east-1 \
  DEPOT_STORAGE__OPTIONS__ACCESS_KEY_ID=test \
  DEPOT_STORAGE__OPTIONS__SECRET_ACCESS_KEY=test \
  DEPOT_STORAGE__OPTIONS__ALLOW_HTTP=true \
  DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" \
  DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$tmp/admin-token" \
  RUST_LOG=${RUST_LOG:-warn} \
    "$depot" serve >>"$tmp/r$i.log" 2>&1 &
  pids[i]=$!
  for _ in $(seq 1 600); do
    curl -fsS "$(direct "$i")/healthz" >/dev/null 2>&1 && return 0
    kill -0 "${pids[i]}" 2>/dev/null || { cat "$tmp/r$i.log" >&2; echo "bench-scale-out: r$i exited" >&2; exit 1; }
    sleep 0.05
  done
  echo "bench-scale-out: r$i did not listen within 30 s" >&2
  exit 1
}

# The first replica creates and migrates the database alone; then the others.
for i in 1 2 3; do start_replica "$i"; done
token=$(cat "$tmp/admin-token")
auth() { command curl -fsS -H "Authorization: Bearer $token" "$@"; }
api() { auth -H 'content-type: application/json' "$@"; }
r1=$(direct 1)
api -X POST "$r1/v1/models" -d '{"name":"iris"}' >/dev/null
# Versions 1 (logistic regression), 2 (random forest), 3 (the regression again).
for file in sklearn_logreg sklearn_forest sklearn_logreg; do
  auth -F "artifact=@tests/fixtures/$file.onnx" "$r1/v1/models/iris/versions" >/dev/null
done
api -X PUT "$r1/v1/models/iris/deployment" -d '{"version":1}' >/dev/null
body="$tmp/iris.json"
echo '{"inputs": {"X": [[5.9, 3.0, 5.1, 1.8]]}}' >"$body"

served_version() { # base: the version a prediction there names, or nothing
  api -X POST "$1/v1/models/iris/predict" --data-binary "@$body" 2>/dev/null |
    grep -o '"version":[0-9]*' | cut -d: -f2 || true
}
for i in 1 2 3; do
  for _ in $(seq 1 200); do [ "$(served_version "$(direct "$i")")" = 1 ] && break; sleep 0.05; done
done

# --- HAProxy -------------------------------------------------------------------------------
# The same configuration as crates/depot/tests/scale_out.rs (haproxy_config), which explains each
# setting; RETRY_ON and CHECK_INTER can be changed here.
cat >"$tmp/haproxy.cfg" <<EOF
global
  maxconn 4096

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 500ms
  retries 3
  option redispatch 1

frontend depot
  bind 127.0.0.1:$frontend
  default_backend replicas

frontend stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /stats

backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server check inter $CHECK_INTER fall 1 rise 1
  retry-on $RETRY_ON
  http-request disable-l7-retry unless METH_POST { path_end /predict /infer }
  http-response set-header depot-lb-server %[srv_name]
  server r1 127.0.0.1:${ports[1]}
  server r2 127.0.0.1:${ports[2]}
  server r3 127.0.0.1:${ports[3]}
  server r4 127.0.0.1:${ports[4]}
EOF
"$haproxy" -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
haproxy_pid=$!

server_state() { # name: UP, DOWN, ... as HAProxy's stats show it
  command curl -fsS "$stats" 2>/dev/null | awk -F, -v name="$1" '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["pxname"] == "replicas" && $col["svname"] == name { print $col["status"] }' || true
}
backend_stat() { # column: its value for the whole backend (e.g. wretr: retries, wredis: redispatches)
  command curl -fsS "$stats" 2>/dev/null | awk -F, -v name="$1" '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["pxname"] == "replicas" && $col["svname"] == "BACKEND" { print $col[name] + 0 }' || true
}
wait_state() { # name state timeout_ms: waits; prints the ms it took
  local start now
  start=$(now_ms)
  while [ "$(server_state "$1")" != "$2" ]; do
    now=$(now_ms)
    if [ $((now - start)) -gt "$3" ]; then
      echo "bench-scale-out: HAProxy did not show $1 $2 within $3 ms" >&2
      cat "$tmp/haproxy.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  echo $(($(now_ms) - start))
}
for name in r1 r2 r3; do wait_state "$name" UP 10000 >/dev/null; done
wait_state r4 DOWN 5000 >/dev/null

# --- load ----------------------------------------------------------------------------------
results="$tmp/results.tsv"
events="$tmp/events.txt"
: >"$events"
start_wrk() { # phase
  phase=$1
  BODY_FILE="$body" DEPOT_TOKEN="$token" wrk -t"$THREADS" -c"$CONNECTIONS" -d600s --latency \
    -s "$bench/scale-out.lua" "$lb/v1/models/iris/predict" >"$tmp/wrk-$phase.out" 2>&1 &
  wrk_pid=$!
  sleep 0.2
}
stop_wrk() { # SIGINT: wrk stops and prints its summary (and the Lua script's lines)
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  wrk_pid=""
  awk -v phase="$phase" '
    /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    /^COUNT/ { counts = counts (counts == "" ? "" : " ") $2 ":" $3 ($4 == "200" ? "" : "(" $4 ")") "=" $5 }
    END {
      kinds = ""
      split("non2xx connect read write timeout", names, " ")
      for (i = 1; i <= 5; i++) if (v[names[i]] > 0) kinds = kinds (kinds == "" ? "" : ",") names[i] "=" v[names[i]]
      printf "%s\t%d\t%d\t%s\t%.0f\t%.2f\t%.2f\t%s\n", phase, v["requests"],
        v["non2xx"] + v["connect"] + v["read"] + v["write"] + v["timeout"], kinds == "" ? "-" : kinds,
        v["rps"], v["p50_us"] / 1000, v["p99_us"] / 1000, counts }' "$tmp/wrk-$phase.out" >>"$results"
}
event() { echo "$*" >>"$events"; echo "   $*" >&2; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== steady" >&2
start_wrk steady
sleep "$STEADY_S"
stop_wrk

echo "== rolling restart" >&2
start_wrk "rolling-restart"
for i in 1 2 3; do
  kill -TERM "${pids[i]}"
  down=$(wait_state "r$i" DOWN $((DRAIN_GRACE_S * 1000)))
  rc=0
  wait "${pids[i]}" || rc=$?
  pids[i]=""
  restart=$(now_ms)
  start_replica "$i"
  listening=$(($(now_ms) - restart))
  up=$(wait_state "r$i" UP 30000)
  event "r$i: SIGTERM -> HAProxy DOWN ${down} ms; exit status $rc; restart -> listening ${listening} ms -> HAProxy UP ${up} ms later"
  sleep 1
done
stop_wrk

echo "== deploy/rollback" >&2
start_wrk "deploy-rollback"
sleep 1
for change in "deploy 2" "deploy 3" "rollback 2"; do
  set -- $change
  if [ "$1" = deploy ]; then
    request=(--method PUT --url "$r1/v1/models/iris/deployment" --json "{\"version\":$2}")
  else
    request=(--method POST --url "$r1/v1/models/iris/deployment/rollback" --json '{}')
  fi
  # The change through r1, then each replica asked directly, in turn, until each serves it.
  figures=$(python3 "$bench/propagation.py" --token "$token" "${request[@]}" --body "$body" --version "$2" \
    "$(direct 1)" "$(direct 2)" "$(direct 3)")
  for i in 1 2 3; do figures=${figures//$(direct "$i")=/r$i=}; done
  slowest=$(echo "$figures" | tr ' ' '\n' | grep '^r' | cut -d= -f2 | sort -n | tail -1)
  event "$change: served by all three within ${slowest} ms of the call's answer ($figures; ms)"
  sleep "$SETTLE_S"
done
stop_wrk

echo "== cold join" >&2
start_wrk "cold-join"
sleep 1
joining=$(now_ms)
start_replica 4
listening=$(($(now_ms) - joining))
up=$(wait_state r4 UP 30000)
event "r4 (cold): start -> listening ${listening} ms -> HAProxy UP ${up} ms later"
sleep "$SETTLE_S"
stop_wrk

echo "== sigkill" >&2
start_wrk sigkill
sleep 2
retries=$(backend_stat wretr) redispatches=$(backend_stat wredis)
kill -9 "${pids[2]}"
down=$(wait_state r2 DOWN 5000)
stop_wrk
wait "${pids[2]}" 2>/dev/null || true
pids[2]=""
event "r2: SIGKILL -> HAProxy DOWN ${down} ms (wrk stopped then: the sigkill row counts what failed until then);" \
  "HAProxy retried $(($(backend_stat wretr) - retries)) requests and redispatched $(($(backend_stat wredis) - redispatches))"

echo "== after kill" >&2
start_wrk "after-kill"
sleep "$AFTER_S"
stop_wrk

# --- report --------------------------------------------------------------------------------
echo
echo "Depot scale-out benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "$(free -h | awk '/^Mem:/ {print $2 " RAM"}'); load average (1/5/15 min): $load_start at the start," \
  "$(cut -d' ' -f1-3 /proc/loadavg) at the end; everything on the same cores (no pinning)"
echo "depot: $depot (workers=$WORKERS, drain_grace_s=$DRAIN_GRACE_S), PostgreSQL 127.0.0.1:5432, S3 $s3 (bucket $bucket)"
echo "haproxy: $("$haproxy" -v | head -1 | cut -d' ' -f1-3); check GET /readyz inter $CHECK_INTER fall 1 rise 1;" \
  "retries 3, redispatch 1, retry-on $RETRY_ON (predictions only)"
echo "load: wrk -t$THREADS -c$CONNECTIONS, POST /v1/models/iris/predict (one row) through HAProxy, constant"
echo
printf '%-16s %9s %9s %-24s %8s %8s %8s\n' phase requests failures "failure kinds" req/s p50_ms p99_ms
awk -F'\t' '{ printf "%-16s %9d %9d %-24s %8d %8.2f %8.2f\n", $1, $2, $3, $4, $5, $6, $7 }' "$results"
echo
echo "answers by replica:version (status when not 200):"
awk -F'\t' '{ printf "  %-16s %s\n", $1, $8 }' "$results"
echo
echo "events:"
sed 's/^/  /' "$events"
echo
awk -F'\t' '
  $1 != "sigkill" && $3 > 0 { bad = bad " " $1 "=" $3 }
  $1 == "sigkill" { killed = $3 }
  END {
    printf "reading: failures outside the kill: %s; failures around the kill: %d (bound: the %s connections in flight)\n",
      bad == "" ? "0 (as expected)" : bad " (expected 0)", killed, conns }' conns="$CONNECTIONS" "$results"
for i in 1 2 3 4; do
  logged=$(grep -E 'WARN|ERROR' "$tmp/r$i.log" 2>/dev/null | grep -v 'admin token was created' | head -5 || true)
  [ -z "$logged" ] || printf 'r%s log, warnings and errors (first 5):\n%s\n' "$i" "$logged"
done
