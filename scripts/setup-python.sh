#!/usr/bin/env bash
# Creates .venv with the Python tools the tests and benchmarks use: moto (the local
# S3-compatible server), onnx + onnxruntime + scikit-learn/skl2onnx (fixture models and
# reference outputs) and tritonclient (a real Open Inference Protocol client).
# Idempotent: a venv whose stamp matches this file's requirements is reused.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
reqs="$root/scripts/requirements-dev.txt"
stamp="$venv/.depot-stamp"
want=$(sha256sum "$reqs" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
echo "$want" > "$stamp"
