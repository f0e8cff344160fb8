#!/usr/bin/env bash
# The cost of metrics: scripts/bench-serving.sh with METRICS=off and METRICS=on alternating
# (tiny and mlp, concurrency 1 and 64, /v2 binary tensors), then the time to scrape /metrics
# with 100 loaded versions (100 versions of tiny, each loaded by one prediction; curl's
# time_total of 200 scrapes). Release build; SKIP_BUILD=1 uses target/release as built.
#   ROUNDS=2  DURATION=5s  SCRAPES=200
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=${ROUNDS:-2}
SCRAPES=${SCRAPES:-200}
out=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench-metrics.XXXXXX")
server=""
db="depot_bench_metrics_$(date +%s)_$RANDOM"
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$out"
}
trap cleanup EXIT
export MODELS=${MODELS:-tiny mlp} APIS=${APIS:-v2bin} CONCURRENCY=${CONCURRENCY:-1 64} DURATION=${DURATION:-5s} INPROC_SECONDS=${INPROC_SECONDS:-1}
for round in $(seq 1 "$ROUNDS"); do
  for metrics in off on; do
    echo "== round $round, metrics $metrics" >&2
    METRICS=$metrics RESULTS="$out/$metrics.$round.tsv" scripts/bench-serving.sh >"$out/report.$metrics.$round" 2>&1 \
      || { cat "$out/report.$metrics.$round" >&2; exit 1; }
    export SKIP_BUILD=1
  done
done
echo "each run (req/s, p50 us):"
for f in "$out"/*.tsv; do
  awk -F'\t' -v run="$(basename "$f" .tsv)" '$1 == "http" && $2 != "-" { printf "  %-8s %-5s %-12s c=%-3s %8.0f %6d\n", run, $2, $3, $4, $5, $6 }' "$f"
done
echo "metrics off vs on, median over $ROUNDS round(s) each ($(date -u '+%Y-%m-%d %H:%M UTC'))"
awk -F'\t' '
  FNR == 1 { split(FILENAME, parts, "/"); split(parts[length(parts)], name, "."); m = name[1]; next }
  $1 == "http" && $2 != "-" { key = $2 " " $3 " c=" $4; keys[key] = 1; n[m, key]++; r[m, key, n[m, key]] = $5; p[m, key, n[m, key]] = $6 }
  function med(a, m, k, c,   i, j, v, t) { for (i = 1; i <= c; i++) v[i] = a[m, k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
  END { printf "%-26s %12s %12s %8s %10s %10s\n", "row", "off req/s", "on req/s", "diff", "off p50us", "on p50us"
    for (k in keys) { a = med(r, "off", k, n["off", k]); b = med(r, "on", k, n["on", k])
      printf "%-26s %12.0f %12.0f %7.1f%% %10.0f %10.0f\n", k, a, b, 100 * (b - a) / a, med(p, "off", k, n["off", k]), med(p, "on", k, n["on", k]) } }' "$out"/*.tsv

# Scrape time with 100 loaded versions.
ort_library=$(scripts/fetch-onnxruntime.sh)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DEPOT_SERVER__LISTEN="127.0.0.1:$port" DEPOT_GRPC__LISTEN=127.0.0.1:0 DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" \
  DEPOT_STORAGE__URL="$out/store" DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" DEPOT_RUNTIME__CACHE_MAX_VERSIONS=128 \
  DEPOT_RUNTIME__SESSIONS_PER_VERSION=1 DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$out/admin-token" RUST_LOG=warn \
  "$root/target/release/depot" serve >"$out/server.out" 2>"$out/server.err" &
server=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
token=$(cat "$out/admin-token")
auth=(-H "Authorization: Bearer $token")
base="http://127.0.0.1:$port"
curl -fsS "${auth[@]}" -X POST "$base/v1/models" -H 'content-type: application/json' -d '{"name":"tiny"}' >/dev/null
for v in $(seq 1 100); do
  curl -fsS "${auth[@]}" -F artifact=@tests/fixtures/tiny.onnx "$base/v1/models/tiny/versions" >/dev/null
  curl -fsS "${auth[@]}" "$base/v1/models/tiny/versions/$v/predict" -H 'content-type: application/json' \
    -d '{"inputs": {"x": [[1, 2, 3, 4]]}}' >/dev/null
done
loaded=$(curl -fsS "${auth[@]}" "$base/metrics" | awk '/^depot_runtime_loaded_versions / {print $2}')
for _ in $(seq 1 "$SCRAPES"); do
  curl -fsS -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$base/metrics"
done | sort -n | awk -v loaded="$loaded" '{ t[NR] = $1 * 1000 } END {
  printf "GET /metrics with %d loaded versions: %d scrapes, p50 %.2f ms, p99 %.2f ms, max %.2f ms (curl time_total)\n",
    loaded, NR, t[int(NR * 0.5)], t[int(NR * 0.99)], t[NR] }'
echo "body: $(curl -fsS "${auth[@]}" "$base/metrics" | wc -c) bytes"
