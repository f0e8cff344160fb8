#!/usr/bin/env bash
# Starts Depot on its embedded defaults: artifacts in ./.depot/artifacts, the local PostgreSQL
# (database `depot`, created and migrated if missing), listening on 127.0.0.1:8080.
# Installs what it needs first: starts PostgreSQL if it is down and fetches the ONNX Runtime
# library. Extra arguments go to `depot serve`; settings come from ./depot.toml and DEPOT_*.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/ensure-postgres.sh
scripts/fetch-onnxruntime.sh >/dev/null
exec cargo run --release --locked -p depot -- serve "$@"
