#!/usr/bin/env bash
# Installs the Python client (editable, with its test dependencies) into the repository's
# .venv and runs its tests against a real Depot server started by the tests themselves.
#   DEPOT_BIN             server binary (default: target/release/depot)
#   DEPOT_TEST_POSTGRES   PostgreSQL server URL (default: postgres://postgres@127.0.0.1:5432)
#   DEPOT_TEST_DB_PREFIX  database name prefix (default: depot_test_py_)
# Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${DEPOT_VENV:-$repo/.venv}"
bin="${DEPOT_BIN:-$repo/target/release/depot}"

if [[ ! -x "$bin" ]]; then
  echo "run-tests.sh: FAILED: the Depot server binary $bin is missing or not executable." >&2
  echo "run-tests.sh: build it (cargo build --release) or point DEPOT_BIN at one." >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "run-tests.sh: FAILED: no Python virtual environment at $venv (scripts/setup-python.sh creates it)." >&2
  exit 1
fi
if ! command -v psql >/dev/null; then
  echo "run-tests.sh: FAILED: psql is needed to drop the test databases." >&2
  exit 1
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[sklearn,test]"
export DEPOT_BIN="$bin"
cd "$here"
exec "$venv/bin/python" -m pytest -q "$@"
