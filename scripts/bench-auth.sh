#!/usr/bin/env bash
# The cost of authentication on the prediction hot path: scripts/bench-serving.sh with
# AUTH=off and AUTH=on, alternating (off on off on ...) in one session on one binary, tiny model,
# concurrency 1 and 16, /v1 JSON and /v2 binary tensors. Prints each run's table and, at the
# end, the rows side by side (median of the rounds of each setting) with the difference.
#   ROUNDS=2 (pairs)   DURATION=5s   other settings go to bench-serving.sh (PIN, SKIP_BUILD, ...)
# Build first (cargo build --release -p depot -p depot-runtime --bin depot --example inproc_bench)
# or let the first run build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=${ROUNDS:-2}
out=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench-auth.XXXXXX")
trap 'rm -rf "$out"' EXIT
export MODELS=tiny APIS=${APIS:-v1 v2bin} CONCURRENCY=${CONCURRENCY:-1 16} DURATION=${DURATION:-5s} INPROC_SECONDS=${INPROC_SECONDS:-1}
for round in $(seq 1 "$ROUNDS"); do
  for auth in off on; do
    echo "== round $round, auth $auth" >&2
    AUTH=$auth RESULTS="$out/$auth.$round.tsv" scripts/bench-serving.sh
    export SKIP_BUILD=1
  done
done
echo
echo "auth off vs on, median over $ROUNDS round(s) each ($(date -u '+%Y-%m-%d %H:%M UTC'))"
awk -F'\t' '
  FNR == 1 { split(FILENAME, parts, "/"); split(parts[length(parts)], name, "."); auth = name[1]; next }
  $1 == "http" && $2 != "-" { key = $2 " " $3 " c=" $4; keys[key] = 1
    n[auth, key]++; rps[auth, key, n[auth, key]] = $5; p50[auth, key, n[auth, key]] = $6 }
  function median(arr, a, k, count,   i, j, v, t) {
    for (i = 1; i <= count; i++) v[i] = arr[a, k, i]
    for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return count % 2 ? v[(count + 1) / 2] : (v[count / 2] + v[count / 2 + 1]) / 2
  }
  END {
    printf "%-26s %12s %12s %8s %12s %12s %10s\n", "row", "off req/s", "on req/s", "diff", "off p50 us", "on p50 us", "diff us"
    for (k in keys) {
      ro = median(rps, "off", k, n["off", k]); rn = median(rps, "on", k, n["on", k])
      po = median(p50, "off", k, n["off", k]); pn = median(p50, "on", k, n["on", k])
      printf "%-26s %12.0f %12.0f %7.1f%% %12.0f %12.0f %+10.0f\n", k, ro, rn, 100 * (rn - ro) / ro, po, pn, pn - po
    }
  }' "$out"/*.tsv
