#!/usr/bin/env bash
# Browser tests of the web console (tests/console/console.test.mjs) against a real server.
#
# Starts PostgreSQL if needed, installs playwright-core into tests/console/node_modules once,
# starts `${DEPOT_BIN:-target/debug/depot} serve` on a free loopback port with a fresh database
# and artifact directory, seeds model `iris` (v1 sklearn_logreg.onnx, v2 sklearn_forest.onnx,
# with metrics) and a reader token, runs the tests in headless Chromium (/usr/bin/chromium), and
# removes everything on exit. Screenshots of the main pages go to docs/console/.
#
# Build first: cargo build --workspace (the console's files are compiled into the binary).
# Settings (environment): DEPOT_BIN, DEPOT_ORT_LIBRARY, CHROMIUM (default /usr/bin/chromium),
#   SCREENSHOTS (default docs/console; empty: none), KEEP_LOGS=DIR (copy the server's logs there),
#   extra arguments go to `node --test` (e.g. --test-name-pattern=tokens).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
# shellcheck source=tests/console/server.sh
source "$here/server.sh"

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "console tests: no Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
command -v node >/dev/null || { echo "console tests: node is required" >&2; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "== installing playwright-core (once)" >&2
  if [ -f "$here/package-lock.json" ]; then npm ci --prefix "$here" --no-audit --no-fund >&2
  else npm install --prefix "$here" --no-audit --no-fund >&2; fi
fi

trap console_cleanup EXIT
trap 'exit 130' INT TERM
console_start_server
echo "== server on $DEPOT_URL (database $CONSOLE_DB)" >&2

console_check_files
console_seed_iris
export SCREENSHOTS=${SCREENSHOTS-$root/docs/console}
[ -z "$SCREENSHOTS" ] || mkdir -p "$SCREENSHOTS"
node --test --test-concurrency=1 --test-reporter=spec "$@" "$here/console.test.mjs"
