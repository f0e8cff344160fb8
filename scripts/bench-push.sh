#!/usr/bin/env bash
# `depot push` of a 1 GiB file beside `curl -F` of the same file, alternating (curl, push,
# curl, push, ...) in one run against one release server on loopback: wall time, MiB/s and the
# client's peak RSS of each. The file is a pickle header padded with zeros (sparse), which Depot
# stores (never unpickles); every upload is a new version of one model, so the server does the
# same work each time (the bytes are stored once; later uploads find the blob).
#   ROUNDS=3  SIZE_MIB=1024  SKIP_BUILD=1 (use target/release/depot as built)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
scripts/ensure-postgres.sh
ort_library=$(scripts/fetch-onnxruntime.sh)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p depot --bin depot >&2
fi
depot="$root/target/release/depot"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/depot-bench-push.XXXXXX")
db="depot_bench_push_$(date +%s)_$RANDOM"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DEPOT_SERVER__LISTEN="127.0.0.1:$port" DEPOT_GRPC__LISTEN=127.0.0.1:0 DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db" \
  DEPOT_STORAGE__URL="$tmp/store" DEPOT_RUNTIME__LIBRARY_PATH="$ort_library" \
  DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$tmp/admin-token" RUST_LOG=warn \
  "$depot" serve >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
export DEPOT_URL="http://127.0.0.1:$port" DEPOT_TOKEN
DEPOT_TOKEN=$(cat "$tmp/admin-token")
"$depot" models create big >/dev/null

file="$tmp/big.pkl"
cp tests/fixtures/model.pkl "$file"
truncate -s "${SIZE_MIB}M" "$file"
cat "$file" >/dev/null # into the page cache, for both clients alike

measure() { # label command...: prints "label seconds peak_rss_kib"
  local label=$1
  shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$label $(echo "$end - $start" | bc) $(cat "$tmp/rss")"
}
results="$tmp/results"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round" >&2
  measure curl curl -fsS -H "Authorization: Bearer $DEPOT_TOKEN" -F "artifact=@$file" \
    "$DEPOT_URL/v1/models/big/versions" >>"$results"
  measure push "$depot" push "$file" --model big >>"$results"
done

echo "depot push vs curl -F, ${SIZE_MIB} MiB, $ROUNDS rounds each, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
awk -v size="$SIZE_MIB" '
  { n[$1]++; t[$1, n[$1]] = $2; rss[$1] = ($3 > rss[$1] ? $3 : rss[$1]); printf "%-5s %6.2f s  %7.1f MiB/s  client peak RSS %6.1f MiB\n", $1, $2, size / $2, $3 / 1024 }
  END {
    for (k in n) { for (i = 1; i <= n[k]; i++) for (j = i + 1; j <= n[k]; j++) if (t[k, j] < t[k, i]) { x = t[k, i]; t[k, i] = t[k, j]; t[k, j] = x }
      med[k] = n[k] % 2 ? t[k, (n[k] + 1) / 2] : (t[k, n[k] / 2] + t[k, n[k] / 2 + 1]) / 2 }
    printf "median: curl %.2f s (%.0f MiB/s), depot push %.2f s (%.0f MiB/s): push takes %+.1f%% of curl'"'"'s time\n",
      med["curl"], size / med["curl"], med["push"], size / med["push"], 100 * (med["push"] - med["curl"]) / med["curl"]
  }' "$results"
