# Sourced by tests/console/run.sh and scripts/bench-console.sh (bash, `set -euo pipefail`):
# starts a Depot debug server on a free loopback port with a fresh database and a temporary
# artifact directory, and removes all of it on exit.
#
# After `console_start_server`:
#   CONSOLE_TMP     the temporary directory (artifacts/, admin-token, server logs)
#   CONSOLE_DB      the database's name (created by the server, dropped on exit)
#   DEPOT_URL       http://127.0.0.1:PORT
#   ADMIN_TOKEN     the bootstrap admin token
#
# Settings (environment): DEPOT_BIN (default target/debug/depot; copied, so a rebuild during the
# run does not change the server), DEPOT_ORT_LIBRARY (default .depot/lib/libonnxruntime.so.1.31.0).

console_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONSOLE_TMP=""
CONSOLE_DB=""
console_pid=""

console_cleanup() {
  if [ -n "$console_pid" ] && kill -0 "$console_pid" 2>/dev/null; then
    kill "$console_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$console_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$console_pid" 2>/dev/null || true
  fi
  [ -n "$console_pid" ] && { wait "$console_pid" 2>/dev/null || true; }
  console_pid=""
  if [ -n "$CONSOLE_DB" ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$CONSOLE_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "$CONSOLE_TMP" ]; then
    if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$CONSOLE_TMP"/*.log "$KEEP_LOGS"/ 2>/dev/null || true; fi
    rm -rf "$CONSOLE_TMP"
  fi
}

console_start_server() {
  local bin=${DEPOT_BIN:-$console_root/target/debug/depot}
  local ort=${DEPOT_ORT_LIBRARY:-$console_root/.depot/lib/libonnxruntime.so.1.31.0}
  local tool address=""
  for tool in curl psql; do
    command -v "$tool" >/dev/null || { echo "console: $tool is required" >&2; return 1; }
  done
  [ -x "$bin" ] || { echo "console: no server binary at $bin (cargo build --workspace first)" >&2; return 1; }
  [ -f "$ort" ] || { echo "console: no ONNX Runtime library at $ort (scripts/fetch-onnxruntime.sh)" >&2; return 1; }
  "$console_root/scripts/ensure-postgres.sh"

  CONSOLE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/depot-console.XXXXXX")
  CONSOLE_DB="depot_console_$(date +%s)_$RANDOM"
  mkdir -p "$CONSOLE_TMP/artifacts"
  cp "$bin" "$CONSOLE_TMP/depot"
  # Created here, so that reading them cannot race the server's start.
  : >"$CONSOLE_TMP/server.out.log"
  : >"$CONSOLE_TMP/server.err.log"

  DEPOT_SERVER__LISTEN=127.0.0.1:0 DEPOT_GRPC__LISTEN=127.0.0.1:0 \
  DEPOT_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$CONSOLE_DB" \
  DEPOT_STORAGE__URL="$CONSOLE_TMP/artifacts" \
  DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE="$CONSOLE_TMP/admin-token" \
  DEPOT_RUNTIME__LIBRARY_PATH="$ort" \
  RUST_LOG=${RUST_LOG:-warn} \
    "$CONSOLE_TMP/depot" serve >"$CONSOLE_TMP/server.out.log" 2>"$CONSOLE_TMP/server.err.log" &
  console_pid=$!
  for _ in $(seq 1 600); do
    address=$(sed -n 's|^Depot listening on http://\([^ ]*\).*|\1|p' "$CONSOLE_TMP/server.out.log" | head -n 1 || true)
    [ -n "$address" ] && break
    kill -0 "$console_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$address" ]; then
    cat "$CONSOLE_TMP/server.out.log" "$CONSOLE_TMP/server.err.log" >&2
    echo "console: the server did not start" >&2
    return 1
  fi
  DEPOT_URL="http://$address"
  for _ in $(seq 1 50); do [ -s "$CONSOLE_TMP/admin-token" ] && break; sleep 0.1; done
  ADMIN_TOKEN=$(tr -d '[:space:]' <"$CONSOLE_TMP/admin-token")
  [ -n "$ADMIN_TOKEN" ] || { echo "console: no bootstrap token in $CONSOLE_TMP/admin-token" >&2; return 1; }
  export DEPOT_URL ADMIN_TOKEN
}

# The binary carries the console's files from its build: fails unless they are the ones in
# crates/api/console (a stale binary would test old files).
console_check_files() {
  local file path
  for file in index.html:/console/ app.js:/console/assets/app.js app.css:/console/assets/app.css; do
    path=${file#*:}
    file=${file%%:*}
    if ! curl -fsS "$DEPOT_URL$path" | cmp -s - "$console_root/crates/api/console/$file"; then
      echo "console: the server's $path differs from crates/api/console/$file: rebuild it (cargo build --workspace)" >&2
      return 1
    fi
  done
}

# curl against the server as the admin; fails on an HTTP error and shows its body.
console_api() { # METHOD PATH [curl arguments...]
  local method=$1 path=$2
  shift 2
  curl -sS --fail-with-body -X "$method" "$DEPOT_URL$path" -H "authorization: Bearer $ADMIN_TOKEN" "$@"
}

# Model `iris`: v1 sklearn_logreg.onnx, v2 sklearn_forest.onnx, each with metrics and parameters
# in its metadata; then a token for principal `reader` with the reader role on every model
# (READER_TOKEN).
console_seed_iris() {
  local fixtures=$console_root/tests/fixtures
  console_api POST /v1/models -H 'content-type: application/json' \
    -d '{"name":"iris","description":"Iris species classifier","tags":["tabular","demo"]}' >/dev/null
  console_api POST /v1/models/iris/versions \
    -F 'metadata={"description":"logistic regression","tags":["baseline"],"metadata":{"framework":"scikit-learn 1.5","metrics":{"accuracy":0.953,"f1":0.951},"parameters":{"C":1.0,"max_iter":200},"lineage":{"dataset":"iris-2024-01","commit":"a1b2c3d","source_run":"run-17"}}}' \
    -F "artifact=@$fixtures/sklearn_logreg.onnx" >/dev/null
  console_api POST /v1/models/iris/versions \
    -F 'metadata={"description":"random forest","tags":["candidate"],"metadata":{"framework":"scikit-learn 1.5","metrics":{"accuracy":0.973,"f1":0.972},"parameters":{"n_estimators":50,"max_depth":4},"lineage":{"dataset":"iris-2024-01","commit":"d4e5f6a","source_run":"run-18"}}}' \
    -F "artifact=@$fixtures/sklearn_forest.onnx" >/dev/null
  READER_TOKEN=$(console_api POST /v1/tokens -H 'content-type: application/json' \
    -d '{"name":"console-tests","principal":"reader","grants":[{"role":"reader","models":"*"}]}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$READER_TOKEN" ] || { echo "console: could not create the reader token" >&2; return 1; }
  export READER_TOKEN
}
