#!/usr/bin/env bash
# Serving benchmark: Depot over HTTP (wrk) beside the in-process floor (inproc_bench), batch 1.
#
# Builds release; starts a fresh `depot serve` on a free loopback port with a fresh database
# (depot_bench_<random>) and a temporary artifact directory; registers tests/fixtures/tiny.onnx
# (Gemm 4->3 + Softmax) and mlp.onnx (784->512->512->10, float32); warms both; then for each
# model, API (/v1 predict and /v2 infer with JSON tensors; /v2 infer with binary tensors, as
# tritonclient sends them by default; and the Open Inference Protocol over gRPC with raw tensors,
# driven by crates/grpc/examples/grpc_load.rs instead of wrk) and concurrency runs wrk and prints req/s, p50, p99
# and errors (non-2xx + socket errors), plus GET /healthz (the HTTP floor) and the in-process
# figures of the same models: raw `Session::run` and `LoadedModel::infer` (--runtime), with 1
# thread (latency) and with as many threads as the server has cores (throughput). Ends with a
# reading against the targets (issue 13):
#   (a) concurrency 1, tiny: p50 within 0.10 ms of the in-process p50, on every API;
#   (b) concurrency 64, mlp: req/s >= 50% of in-process throughput on the server's cores over
#       JSON (/v1, /v2), >= 75% over binary tensors (/v2 binary) and gRPC.
# Everything is removed on exit (server, database, temporary files). Loopback only.
#
# Settings (environment):
#   PIN=1            pin the server (and the in-process runs) to SERVER_CPUS and wrk to WRK_CPUS
#                    with taskset, so the load generator does not take the server's cores;
#                    PIN=0 runs all unpinned (wrk then competes with the server for every core)
#   SERVER_CPUS=1 WRK_CPUS=0        taskset CPU lists when PIN=1
#   WORKERS, SESSIONS, INTRA        server.workers, runtime.sessions_per_version,
#                    runtime.intra_op_threads (defaults: 1/1/1 pinned to one core, else 0/4/1,
#                    the server's own defaults)
#   BATCHING=N:MS    turn on dynamic batching for every registered version (max_batch_size N,
#                    max_queue_delay_ms MS); off by default (batch-1 runs, as in-process)
#   DURATION=10s     each wrk run;   INPROC_SECONDS=3   each in-process phase
#   CONCURRENCY="1 16 64"  MODELS="tiny mlp"  APIS="v1 v2 v2bin grpc"  (v2bin: OIP binary tensor
#                    bodies, scripts/bench/MODEL.v2bin, written by make-binary-bodies.py; grpc:
#                    ModelInfer with raw tensors, one HTTP/2 connection per client)
#   GRPC_CLIENT=h2load  h2load (nghttp2's HTTP/2 load generator, a Debian package installed here
#                    when missing) sends the request grpc_load wrote (`grpc_load --body`); its
#                    per-request log gives the latencies, and the server's depot_grpc_requests_total
#                    counts calls that did not end OK. grpc_load: the Rust generator in
#                    crates/grpc/examples (tonic's client; costs about twice h2load's CPU a call)
#   SKIP_BUILD=1     use the binaries already built (BENCH_DEPOT_BIN, BENCH_INPROC_BIN,
#                    BENCH_GRPC_LOAD_BIN: other copies of target/release/depot,
#                    target/release/examples/inproc_bench and target/release/examples/grpc_load)
#   ROUTE=versioned  versioned (/versions/1/ in the path) or deployed (version-less routes)
#   RESULTS=FILE     also write the raw results (TSV) there
#   METRICS=on       on: metrics recorded (metrics.enabled, the default); off: nothing recorded
#   AUTH=on          on: every request carries the admin token the server created at its first
#                    start (auth.mode = tokens, the default); off: auth.mode = off, no token
# Errors are counted by kind (wrk's non-2xx, connect, read, write, timeout), and the report ends
# with the server's own warnings and errors, if it logged any. Each load run also records where
# the machine's time went: the server's CPU per request (utime+stime from /proc), the load
# generator's CPU per request, the server's context switches per request (all its threads), and
# the share of the machine left idle.
#   TOTAL_SECONDS=595  hard limit for the whole script (it re-runs itself under `timeout`); the
#                    build may take all but 240 s of it (an incremental build takes seconds, a
#                    cold one ~7 min on 2 cores: build first if the tree is cold), and wrk runs
#                    that would start less than 60 s before the end are skipped
# A default run takes about 4 minutes after the build (20 wrk runs of 10 s, 2 in-process runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bench="$root/scripts/bench"
TOTAL_SECONDS=${TOTAL_SECONDS:-595}
if [ -z "${BENCH_SERVING_DEADLINE:-}" ]; then
  # The whole run is bounded; the EXIT trap below still cleans up when timeout stops it.
  export BENCH_SERVING_DEADLINE=$(($(date +%s) + TOTAL_SECONDS - 15))
  exec timeout --foreground -k 30 "$TOTAL_SECONDS" "$root/scripts/bench-serving.sh" "$@"
fi

PIN=${PIN:-1}
SERVER_CPUS=${SERVER_CPUS:-1}
WRK_CPUS=${WRK_CPUS:-0}
DURATION=${DURATION:-10s}
INPROC_SECONDS=${INPROC_SECONDS:-3}
CONCURRENCY=${CONCURRENCY:-1 16 64}
MODELS=${MODELS:-tiny mlp}
APIS=${APIS:-v1 v2 v2bin grpc}
ROUTE=${ROUTE:-versioned}
AUTH=${AUTH:-on}
METRICS=${METRICS:-on}
case $METRICS in on) metrics_enabled=true ;; off) metrics_enabled=false ;; *) echo "bench-serving: METRICS is on or off" >&2; exit 1 ;; esac
case $AUTH in on) auth_mode=tokens ;; off) auth_mode=off ;; *) echo "bench-serving: AUTH is on or off" >&2; exit 1 ;; esac

# Cores the server may use.
cpu_count() { # "0-2,5" -> 4
  local n=0 part
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
  done
  echo "$n"
}
# Command prefixes (arrays, not functions, so that `$!` is the server itself: taskset execs it).
if [ "$PIN" = 1 ]; then
  server_cores=$(cpu_count "$SERVER_CPUS")
  on_server=(taskset -c "$SERVER_CPUS")
  on_client=(taskset -c "$WRK_CPUS")
else
  server_cores=$(nproc)
  on_server=()
  on_client=()
fi
if [ "$server_cores" -le 1 ]; then
  WORKERS=${WORKERS:-1} SESSIONS=${SESSIONS:-1}
else
  WORKERS=${WORKERS:-0} SESSIONS=${SESSIONS:-4}
fi
INTRA=${INTRA:-1}
BATCHING=${BATCHING:-}

GRPC_CLIENT=${GRPC_CLIENT:-h2load}
case $GRPC_CLIENT in h2load | grpc_load) ;; *) echo "bench-serving: GRPC_CLIENT is h2load or grpc_load" >&2; exit 1 ;; esac

# wrk and h2load are Debian packages; a fresh machine lacks them.
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || true
if [ "$GRPC_CLIENT" = h2load ] && [[ " $APIS " == *" grpc "* ]]; then
  command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; } || true
  command -v h2load >/dev/null || { echo "bench-serving: h2load is required (or GRPC_CLIENT=grpc_load)" >&2; exit 1; }
fi
for tool in wrk curl psql python3 taskset; do
  command -v "$tool" >/dev/null || { echo "bench-serving: $tool is required" >&2; exit 1; }
done

# --- build ---------------------------------------------------------------------------------
scripts/ensure-postgres.sh
ort_library=$(scripts/fetch-onnxruntime.sh)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building (release)" >&2
  build_budget=$((BENCH_SERVING_DEADLINE - 240 - $(date +%s)))
  [ "$build_budget" -gt 0 ] || { echo "bench-serving: no time left to build" >&2; exit 1; }
  if ! timeout "$build_budget" cargo build --release --locked -p depot -p depot-runtime -p depot-grpc --features depot-grpc/client \
    --bin depot --example inproc_bench --example grpc_load >&2; then
    echo "bench-serving: the build failed or took more than ${build_budget}s; build first, then SKIP_BUILD=1" >&2
    exit 1
  fi
fi
depot=${BENCH_DEPOT_BIN:-$root/target/release/depot}
inproc=${BENCH_INPROC_BIN:-$root/target/release/examples/inproc_bench}
grpc_load=${BENCH_GRPC_LOAD_BIN:-$root/target/release/examples/grpc_load}
[ -x "$depot" ] && [ -x "$inproc" ] && [ -x "$grpc_load" ] || { echo "bench-serving: build the binaries first" >&2; exit 1; }
# wrk runs must start at least 60 s before the end (the in-process runs and clean-up follow).
wrk_deadline=$((BENCH_SERVING_DEADLINE - 60))

# --- fresh server --------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench.XXXXXX")
db="depot_bench_$(date +%s)_$RANDOM"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server" 2>/dev/null || true
  fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
grpc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/artifacts"
DEPOT_SERVER__LISTEN="127.0.0.1:$port" \
DEPOT_GRPC__LISTEN="127.0.0.1:$grpc_port" \
DEPOT_SERVER__WORKERS="$WORKERS" \
DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" \
DEPOT_STORAGE__URL="$tmp/artifacts" \
DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" \
DEPOT_RUNTIME__SESSIONS_PER_VERSION="$SESSIONS" \
DEPOT_RUNTIME__INTRA_OP_THREADS="$INTRA" \
DEPOT_AUTH__MODE="$auth_mode" \
DEPOT_METRICS__ENABLED="$metrics_enabled" \
DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$tmp/admin-token" \
RUST_LOG=${RUST_LOG:-warn} \
  "${on_server[@]}" "$depot" serve >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "bench-serving: the server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$base/healthz" >/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
# With auth on, every request (curl's and wrk's) carries the admin token.
DEPOT_TOKEN=""
[ "$AUTH" = on ] && DEPOT_TOKEN=$(cat "$tmp/admin-token")
export DEPOT_TOKEN
curl() { if [ -n "$DEPOT_TOKEN" ]; then command curl -H "Authorization: Bearer $DEPOT_TOKEN" "$@"; else command curl "$@"; fi; }

for model in $MODELS; do
  curl -fsS -X POST "$base/v1/models" -H 'content-type: application/json' -d "{\"name\":\"$model\"}" >/dev/null
  curl -fsS -F "artifact=@tests/fixtures/$model.onnx" "$base/v1/models/$model/versions" >/dev/null
  if [ "$ROUTE" = deployed ]; then
    curl -fsS -X PUT "$base/v1/models/$model/deployment" -H 'content-type: application/json' -d '{"version":1}' >/dev/null
  fi
  if [ -n "$BATCHING" ]; then
    curl -fsS -X PATCH "$base/v1/models/$model/versions/1" -H 'content-type: application/json' \
      -d "{\"batching\":{\"max_batch_size\":${BATCHING%:*},\"max_queue_delay_ms\":${BATCHING#*:}}}" >/dev/null
  fi
done

# ROUTE=versioned (default) names version 1 in the path; ROUTE=deployed deploys it and uses the
# version-less routes (the deployment lookup and canary pick on every request).
if [ "$ROUTE" = deployed ]; then versioned=""; else versioned="/versions/1"; fi
url_of() { # model api
  case $2 in
    v1) echo "$base/v1/models/$1$versioned/predict" ;;
    v2 | v2bin) echo "$base/v2/models/$1$versioned/infer" ;;
  esac
}
body_of() { # model api
  case $2 in
    v2bin) echo "$bench/$1.v2bin" ;;
    *) echo "$bench/$1.$2.json" ;;
  esac
}
header_length_of() { # model api: the OIP binary body's JSON header length, else nothing
  if [ "$2" = v2bin ]; then tr -d '\n' <"$bench/$1.v2bin.hlen"; fi
}

# Correctness and warm-up: one checked request per model and API, then a short load.
for model in $MODELS; do
  for api in $APIS; do
    if [ "$api" = grpc ]; then
      # grpc_load checks one call before it measures; a short load warms the path.
      out=$("${on_client[@]}" timeout 60 "$grpc_load" "127.0.0.1:$grpc_port" "$model" "${versioned:+1}" 4 2)
      echo "$out" | grep -q ' non2xx=0 ' || { echo "bench-serving: gRPC warm-up failed: $out" >&2; exit 1; }
      # The request h2load sends, as grpc_load sent it (one checked call first).
      timeout 60 "$grpc_load" "127.0.0.1:$grpc_port" "$model" "${versioned:+1}" --body "$tmp/$model.grpc"
      continue
    fi
    hlen=$(header_length_of "$model" "$api")
    if [ -n "$hlen" ]; then
      headers=(-H 'content-type: application/octet-stream' -H "inference-header-content-length: $hlen")
    else
      headers=(-H 'content-type: application/json')
    fi
    response=$(curl -fsS "$(url_of "$model" "$api")" "${headers[@]}" --data-binary "@$(body_of "$model" "$api")")
    echo "$response" | grep -q '"data"' || { echo "bench-serving: unexpected response: $response" >&2; exit 1; }
    BODY_FILE="$(body_of "$model" "$api")" INFERENCE_HEADER_LENGTH="$hlen" "${on_client[@]}" \
      wrk -t1 -c4 -d2s -s "$bench/request.lua" "$(url_of "$model" "$api")" >/dev/null
  done
done

# --- measurements --------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
results="$tmp/results.tsv"
printf 'kind\tmodel\tpath\tconc\trps\tp50_us\tp99_us\terrors\terror_kinds\tsrv_us_req\tgen_us_req\tcsw_req\tidle_pct\n' >"$results"

# Where the time goes during a run: CPU ticks of the server and of this shell's waited-for
# children (the load generator), the server's context switches, the machine's idle ticks.
ticks_per_s=$(getconf CLK_TCK)
snapshot() {
  local server_ticks child_ticks csw=0 f idle total
  server_ticks=$(awk '{print $14 + $15}' "/proc/$server/stat")
  child_ticks=$(awk '{print $16 + $17}' "/proc/$$/stat")
  for f in /proc/"$server"/task/*/status; do
    csw=$((csw + $(awk '/ctxt_switches/ {s += $2} END {print s + 0}' "$f" 2>/dev/null || echo 0)))
  done
  read -r idle total < <(awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t}' /proc/stat)
  echo "$server_ticks $child_ticks $csw $idle $total"
}
where_time_went() { # before after requests: appends srv_us_req gen_us_req csw_req idle_pct
  awk -v b="$1" -v a="$2" -v n="$3" -v hz="$ticks_per_s" 'BEGIN {
    split(b, x, " "); split(a, y, " "); if (n <= 0) n = 1
    printf "\t%.1f\t%.1f\t%.2f\t%.0f", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n,
      (y[3] - x[3]) / n, (y[5] > x[5]) ? 100 * (y[4] - x[4]) / (y[5] - x[5]) : 0 }'
}

# ModelInfer calls the server counted that did not end OK (all models).
grpc_failures() {
  local metrics
  metrics=$(curl -fsS "$base/metrics") || { echo "bench-serving: cannot read $base/metrics" >&2; exit 1; }
  echo "$metrics" | awk '/^depot_grpc_requests_total\{/ && /method="ModelInfer"/ && !/code="OK"/ { n += $NF }
    END { printf "%d\n", n }'
}

# h2load, with grpc_load's RESULT line: requests and latencies from its per-request log.
h2load_grpc() { # model conc seconds
  local threads=1 failed_before failed_after out
  [ "$2" -gt 1 ] && threads=2
  failed_before=$(grpc_failures) || exit 1
  rm -f "$tmp/h2load.log" # h2load appends to its log
  out=$("${on_client[@]}" timeout 120 h2load -t"$threads" -c"$2" -m1 -D "$3" --log-file="$tmp/h2load.log" \
    -d "$tmp/$1.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
    ${DEPOT_TOKEN:+-H "authorization: Bearer $DEPOT_TOKEN"} \
    "http://127.0.0.1:$grpc_port/inference.GRPCInferenceService/ModelInfer" 2>&1) || true
  failed_after=$(grpc_failures) || exit 1
  echo "$out" >>"$tmp/h2load-output.log"
  # Columns: start (µs since the epoch), HTTP status, µs to the end of the response.
  # The run's span is from the first request's start to the last one's end.
  sort -t$'\t' -k3,3n "$tmp/h2load.log" | awk -F'\t' -v grpc_failed=$((failed_after - failed_before)) '
    { n++; lat[n] = $3; if ($2 != 200) bad++
      if (n == 1 || $1 < first) first = $1; if ($1 + $3 > last) last = $1 + $3 }
    END { if (n == 0 || last <= first) { print "RESULT requests=0 rps=0 p50_us=0 p90_us=0 p99_us=0 max_us=0 non2xx=1"; exit }
      printf "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d\n",
        n, last - first, n * 1e6 / (last - first), lat[int(n * 0.5) + 1], lat[int(n * 0.9) + 1], lat[int(n * 0.99) + 1],
        lat[n], bad + grpc_failed }'
}

run_grpc() { # model conc: grpc_load or h2load instead of wrk, the same RESULT line
  local model=$1 conc=$2 seconds=${DURATION%s} out
  if [ "$(date +%s)" -ge "$wrk_deadline" ]; then
    echo "bench-serving: time budget spent, skipping gRPC $model c=$conc" >&2
    return
  fi
  local before after line
  before=$(snapshot)
  if [ "$GRPC_CLIENT" = h2load ]; then
    out=$(h2load_grpc "$model" "$conc" "$seconds") || exit 1
  else
    out=$("${on_client[@]}" timeout 120 "$grpc_load" "127.0.0.1:$grpc_port" "$model" "${versioned:+1}" "$conc" "$seconds")
  fi
  after=$(snapshot)
  echo "$out" >>"$tmp/wrk.log"
  line=$(echo "$out" | awk -v model="$model" -v conc="$conc" '
    /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "http\t%s\tgRPC\t%s\t%.0f\t%d\t%d\t%d\t%s\t%d", model, conc, v["rps"], v["p50_us"], v["p99_us"],
        v["non2xx"], (v["non2xx"] > 0 ? "status=" v["non2xx"] : ""), v["requests"] }')
  echo "${line%$'\t'*}$(where_time_went "$before" "$after" "${line##*$'\t'}")" >>"$results"
}

run_wrk() { # label model path conc url body [inference header length]
  local label=$1 model=$2 path=$3 conc=$4 url=$5 body=$6 hlen=${7:-} threads=1 out
  [ "$conc" -gt 1 ] && threads=2
  if [ "$(date +%s)" -ge "$wrk_deadline" ]; then
    echo "bench-serving: time budget spent, skipping $label $model $path c=$conc" >&2
    return
  fi
  local before after line
  before=$(snapshot)
  out=$(BODY_FILE="$body" INFERENCE_HEADER_LENGTH="$hlen" "${on_client[@]}" timeout 120 wrk -t"$threads" -c"$conc" -d"$DURATION" --latency \
    -s "$bench/request.lua" "$url")
  after=$(snapshot)
  echo "$out" >>"$tmp/wrk.log"
  line=$(echo "$out" | awk -v label="$label" -v model="$model" -v path="$path" -v conc="$conc" '
    /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      kinds = ""
      split("non2xx connect read write timeout", names, " ")
      for (i = 1; i <= 5; i++) if (v[names[i]] > 0) kinds = kinds (kinds == "" ? "" : ",") names[i] "=" v[names[i]]
      printf "%s\t%s\t%s\t%s\t%.0f\t%d\t%d\t%d\t%s\t%d", label, model, path, conc, v["rps"], v["p50_us"], v["p99_us"],
        v["non2xx"] + v["connect"] + v["read"] + v["write"] + v["timeout"], kinds, v["requests"] }')
  echo "${line%$'\t'*}$(where_time_went "$before" "$after" "${line##*$'\t'}")" >>"$results"
}

for model in $MODELS; do
  for api in $APIS; do
    for conc in $CONCURRENCY; do
      if [ "$api" = grpc ]; then
        echo "== $GRPC_CLIENT (gRPC) $model c=$conc" >&2
        run_grpc "$model" "$conc"
        continue
      fi
      echo "== wrk $model /$api c=$conc" >&2
      path="/$api"
      [ "$api" = v2bin ] && path="/v2 binary"
      run_wrk http "$model" "$path" "$conc" "$(url_of "$model" "$api")" "$(body_of "$model" "$api")" \
        "$(header_length_of "$model" "$api")"
    done
  done
done
for conc in 1 64; do
  echo "== wrk GET /healthz c=$conc" >&2
  run_wrk http - "GET /healthz" "$conc" "$base/healthz" ""
done

# The server is stopped before the in-process runs so that they have its cores to themselves.
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
server=""

# inproc_bench measures 1 thread, then --threads N (when N > 1), for each model.
for flag in "" --runtime; do
  echo "== inproc_bench --threads $server_cores --seconds $INPROC_SECONDS $flag" >&2
  DEPOT_ORT_LIBRARY="$ort_library" "${on_server[@]}" timeout 120 "$inproc" --threads "$server_cores" \
    --seconds "$INPROC_SECONDS" $flag | tee -a "$tmp/inproc.log" >&2
done
# Rows: model, path words..., threads, p50_us, p99_us, runs/s, runs.
awk -v models=" $MODELS " 'index(models, " " $1 " ") {
  path = $2; for (i = 3; i <= NF - 5; i++) path = path " " $i
  printf "inproc\t%s\t%s\t%s\t%.0f\t%d\t%d\t0\t\t\t\t\t\n", $1, path, $(NF-4), $(NF-1), $(NF-3), $(NF-2) }' \
  "$tmp/inproc.log" >>"$results"

# --- report --------------------------------------------------------------------------------
echo
echo "Depot serving benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
  "$(free -h | awk '/^Mem:/ {print $2 " RAM"}'); load average (1/5/15 min): $load_start at the start," \
  "$(cut -d' ' -f1-3 /proc/loadavg) at the end"
if [ "$PIN" = 1 ]; then
  echo "pinning: server and in-process runs on CPU(s) $SERVER_CPUS ($server_cores cores), wrk on CPU(s) $WRK_CPUS"
else
  echo "pinning: none (wrk shares the $server_cores cores with the server)"
fi
echo "server: workers=$WORKERS sessions_per_version=$SESSIONS intra_op_threads=$INTRA inter_op_threads=1" \
  "batching=${BATCHING:-off}; auth=$AUTH; metrics=$METRICS; RUST_LOG=${RUST_LOG:-warn};" \
  "wrk and $GRPC_CLIENT (gRPC) $DURATION per run (-t1 at c=1, -t2 above), bodies from scripts/bench/"
echo
awk -F'\t' 'NR == 1 { next }
  { printf "%-7s %-5s %-26s %6s %10s %9.3f %9.3f %7s %9s %9s %8s %5s %s\n", $1, $2, $3, $4, $5, $6 / 1000, $7 / 1000, $8,
      $10, $11, $12, $13, $9 }
  BEGIN { printf "%-7s %-5s %-26s %6s %10s %9s %9s %7s %9s %9s %8s %5s\n", "kind", "model", "path", "conc/thr", "req/s",
      "p50_ms", "p99_ms", "errors", "srv_us/r", "gen_us/r", "csw/r", "idle%" }' \
  "$results"

echo
awk -F'\t' -v cores="$server_cores" '
  $1 == "http" { rps[$2 "|" $3 "|" $4] = $5; p50[$2 "|" $3 "|" $4] = $6 }
  $1 == "inproc" { irps[$2 "|" $3 "|" $4] = $5; ip50[$2 "|" $3 "|" $4] = $6 }
  END {
    n = split("ort Session::run|depot LoadedModel::infer", floors, "|")
    split("/v1|/v2|/v2 binary|gRPC", apis, "|")
    split("0.5|0.5|0.75|0.75", share, "|")
    for (a = 1; a <= 4; a++) {
      api = apis[a]
      k = "tiny|" api "|1"
      if (!(k in p50)) continue
      for (f = 1; f <= n; f++) {
        kf = "tiny|" floors[f] "|1"
        if (!(kf in ip50)) continue
        d = (p50[k] - ip50[kf]) / 1000
        printf "(a) tiny %s c=1: p50 %.3f ms vs %s p50 %.3f ms: +%.3f ms (target <= 0.100): %s\n",
          api, p50[k] / 1000, floors[f], ip50[kf] / 1000, d, d <= 0.100 ? "MET" : "NOT MET"
      }
    }
    for (a = 1; a <= 4; a++) {
      api = apis[a]
      k = "mlp|" api "|64"
      if (!(k in rps)) continue
      for (f = 1; f <= n; f++) {
        kf = "mlp|" floors[f] "|" cores
        if (!(kf in irps) || irps[kf] == 0) continue
        r = rps[k] / irps[kf]
        printf "(b) mlp %s c=64: %.0f req/s vs %s x%d %.0f runs/s: %.0f%% (target >= %d%%): %s\n",
          api, rps[k], floors[f], cores, irps[kf], 100 * r, 100 * share[a], r >= share[a] ? "MET" : "NOT MET"
      }
    }
  }' "$results"

# What the server said about failed requests (it logs at RUST_LOG, warn by default).
if grep -qE 'WARN|ERROR' "$tmp/server.log"; then
  echo
  echo "server log, warnings and errors (first 20):"
  grep -E 'WARN|ERROR' "$tmp/server.log" | head -20
fi

if [ -n "${RESULTS:-}" ]; then
  cp "$results" "$RESULTS"
fi
