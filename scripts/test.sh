#!/usr/bin/env bash
# Runs every test against the real things: PostgreSQL (started if down), an S3-compatible
# server (moto, started here on a free loopback port and stopped afterwards) and ONNX Runtime
# (fetched from the onnxruntime wheel); then the Python client's tests (pytest) against the
# `depot` binary those tests built. Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/ensure-postgres.sh
scripts/setup-python.sh
# A real Prometheus server scrapes Depot in one end-to-end test (Debian's package).
command -v prometheus >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }
# HAProxy balances replicas in the scale-out test (crates/depot/tests/scale_out.rs; Debian's package).
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; }
# The console's browser tests drive Debian's Chromium with playwright-core (npm) on Node.
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
if [ -x scripts/fetch-onnxruntime.sh ]; then
  export DEPOT_ORT_LIBRARY=${DEPOT_ORT_LIBRARY:-$(scripts/fetch-onnxruntime.sh)}
fi

# Databases of earlier runs (each test makes its own).
psql -h 127.0.0.1 -U postgres -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'depot\_test\_%'" |
  while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null; done

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/depot-moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.2
done
export DEPOT_TEST_S3_ENDPOINT="http://127.0.0.1:$port"

# The Grafana dashboard, alerting rules and scrape configuration of deploy/observability.
scripts/check-observability.sh
# The Kubernetes manifests of deploy/kubernetes, rendered by kustomize and validated offline.
scripts/check-kubernetes.sh
cargo test --workspace --locked "$@"
# The Python client (clients/python) against a real server: the debug binary just built.
DEPOT_BIN="$root/target/debug/depot" clients/python/run-tests.sh
# The API against its own OpenAPI document: schemathesis, at least 1,000 generated requests.
DEPOT_BIN="$root/target/debug/depot" scripts/fuzz-api.sh
# The web console in headless Chromium (screenshots are refreshed by running it by hand).
DEPOT_BIN="$root/target/debug/depot" SCREENSHOTS= tests/console/run.sh
