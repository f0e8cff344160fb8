#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library that depot-runtime loads at start-up.
#
# The PyPI wheel onnxruntime==1.31.0 (manylinux, x86_64) carries
# onnxruntime/capi/libonnxruntime.so.1.31.0, which needs only glibc and libstdc++ (not Python).
# This downloads the wheel with `pip download --no-deps` into a temporary directory, extracts
# that one file to <repo>/.depot/lib/ and prints its path. Idempotent: an existing library is
# kept. Override the Python with PYTHON=...
set -euo pipefail

version=1.31.0
root=$(cd "$(dirname "$0")/.." && pwd)
dest_dir="$root/.depot/lib"
dest="$dest_dir/libonnxruntime.so.$version"
member="onnxruntime/capi/libonnxruntime.so.$version"

if [ -s "$dest" ]; then
  echo "$dest"
  exit 0
fi

python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then
    python="$root/.venv/bin/python"
  else
    python=$(command -v python3 || true)
  fi
fi
if [ -z "$python" ]; then
  echo "fetch-onnxruntime: no python3 found (set PYTHON=/path/to/python)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$python" -m pip download --quiet --disable-pip-version-check --no-deps \
  --only-binary=:all: --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  --python-version 3.12 --implementation cp \
  --dest "$tmp" "onnxruntime==$version" >&2

wheel=$(find "$tmp" -maxdepth 1 -name "onnxruntime-$version-*.whl" | head -n 1)
if [ -z "$wheel" ]; then
  echo "fetch-onnxruntime: pip did not produce an onnxruntime-$version wheel" >&2
  exit 1
fi

mkdir -p "$dest_dir"
# A wheel is a zip; extract the single member with Python's zipfile so no `unzip` is needed.
"$python" - "$wheel" "$member" "$dest.tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "$dest"
