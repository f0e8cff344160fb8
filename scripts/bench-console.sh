#!/usr/bin/env bash
# Web console benchmark: first load of the models page with 1,000 models and of a model page
# with 10,000 versions, in headless Chromium.
#
# Same set-up as tests/console/run.sh (tests/console/server.sh): the debug server
# (${DEPOT_BIN:-target/debug/depot}) on a free loopback port, a fresh database and artifact
# directory, all removed on exit. Seeds:
#   - 1,000 models (model-0001 … model-1000) inserted by SQL;
#   - model `big`: one real version pushed through the API (tests/fixtures/sklearn_forest.onnx
#     with metrics), then versions 2-10,000 inserted by SQL as copies of that row (each with its
#     own metrics and creation time), deployed at v1 with an alias. The server reads the
#     database, so nothing restarts.
# Then tests/console/bench.mjs loads /console/#/models and /console/#/models/big RUNS times each
# (after WARMUP uncounted loads, which take the browser's own start-up costs), each time in a
# fresh browser context (cold cache), and prints median and max of: first
# contentful paint, the time until the list's first row is in the DOM, and the bytes transferred
# (navigation + all resources once the network is idle).
# Targets: FCP < 300 ms and < 200 KB transferred, on every run.
#
# Settings (environment): RUNS=5, WARMUP=1, DEPOT_BIN, DEPOT_ORT_LIBRARY, CHROMIUM, RESULTS=FILE (the JSON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=tests/console/server.sh
source "$root/tests/console/server.sh"
export RUNS=${RUNS:-5} WARMUP=${WARMUP:-1}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "bench-console: no Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
here="$root/tests/console"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "== installing playwright-core (once)" >&2
  npm ci --prefix "$here" --no-audit --no-fund >&2
fi

trap console_cleanup EXIT
trap 'exit 130' INT TERM
console_start_server
echo "== server on $DEPOT_URL (database $CONSOLE_DB)" >&2
console_check_files
sql() { psql -h 127.0.0.1 -U postgres -d "$CONSOLE_DB" -v ON_ERROR_STOP=1 -qAt "$@"; }

echo "== seeding 1,000 models and a model with 10,000 versions" >&2
started=$(date +%s)
sql -c "INSERT INTO models (name, description, tags, created_by)
        SELECT format('model-%s', lpad(g::text, 4, '0')), format('Benchmark model number %s', g),
               ARRAY['bench', CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END], 'bench'
        FROM generate_series(1, 1000) g"
console_api POST /v1/models -H 'content-type: application/json' \
  -d '{"name":"big","description":"A model with 10,000 versions","tags":["bench"]}' >/dev/null
console_api POST /v1/models/big/versions \
  -F 'metadata={"description":"random forest","tags":["candidate"],"metadata":{"framework":"scikit-learn 1.5","metrics":{"accuracy":0.973,"f1":0.972},"parameters":{"n_estimators":50,"max_depth":4},"lineage":{"dataset":"iris-2024-01","commit":"d4e5f6a","source_run":"run-18"}}}' \
  -F "artifact=@tests/fixtures/sklearn_forest.onnx" >/dev/null
# Copies of version 1's row (jsonb_populate_record keeps every column, whatever the schema
# grows), each with its number, metrics and creation time.
sql -c "INSERT INTO versions
        SELECT (jsonb_populate_record(v, jsonb_build_object(
                  'version', g,
                  'created_at', v.created_at + g * interval '1 second',
                  'updated_at', v.created_at + g * interval '1 second',
                  'metadata', jsonb_set(v.metadata, '{metrics}', jsonb_build_object(
                      'accuracy', round((0.80 + random() * 0.19)::numeric, 4),
                      'f1', round((0.78 + random() * 0.2)::numeric, 4)))))).*
        FROM versions v CROSS JOIN generate_series(2, 10000) g
        WHERE v.model_id = (SELECT id FROM models WHERE name = 'big') AND v.version = 1"
sql -c "UPDATE models SET next_version = 10001 WHERE name = 'big'"
console_api PUT /v1/models/big/deployment -H 'content-type: application/json' -d '{"version":1}' >/dev/null
console_api PUT /v1/models/big/aliases/champion -H 'content-type: application/json' -d '{"version":1}' >/dev/null
count=$(console_api GET '/v1/models/big' | sed -n 's/.*"version_count":\([0-9]*\).*/\1/p')
models=$(sql -c "SELECT count(*) FROM models")
[ "$count" = 10000 ] || { echo "bench-console: model big has $count versions, not 10000" >&2; exit 1; }
echo "== seeded in $(( $(date +%s) - started )) s: $models models, big has $count versions" >&2

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(node "$here/bench.mjs")
echo
echo "Depot console benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
  "$(free -h | awk '/^Mem:/ {print $2 " RAM"}'); load average: $load_start (start), $(cut -d' ' -f1-3 /proc/loadavg) (end)"
echo "source: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes');" \
  "server: $(basename "${DEPOT_BIN:-target/debug/depot}") ($( [[ "${DEPOT_BIN:-target/debug/depot}" == *release* ]] && echo release || echo debug) build), loopback;" \
  "browser: $("$CHROMIUM" --version 2>/dev/null | head -n 1), headless, 1280x800, cold cache each run, $WARMUP uncounted warm-up load(s) per page"
echo "console files: index.html $(wc -c <crates/api/console/index.html) B, app.js $(wc -c <crates/api/console/app.js) B, app.css $(wc -c <crates/api/console/app.css) B (served uncompressed)"
echo "seed: $models models (models page: #/models, first page of 50); model big with $count versions (#/models/big, first page of 50)"
echo
echo "$out" | sed '$d'
if [ -n "${RESULTS:-}" ]; then echo "$out" | tail -n 1 >"$RESULTS"; fi
