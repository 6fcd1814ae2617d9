#!/usr/bin/env bash
# Runs the Python SDK's tests in python/.venv-dev (created with uv on first use:
# the SDK installed editable plus pandas, polars, duckdb and pytest).
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if command -v uv >/dev/null 2>&1; then
  UV="uv"
elif "$PY" -m uv --version >/dev/null 2>&1; then
  UV="$PY -m uv"
else
  "$PY" -m pip install --quiet --disable-pip-version-check uv
  UV="$PY -m uv"
fi

if [ ! -x .venv-dev/bin/python ] || ! .venv-dev/bin/python -c "import tarn, pyarrow, pandas, polars, duckdb, pytest" >/dev/null 2>&1; then
  echo "python/test.sh: creating python/.venv-dev"
  $UV venv --quiet --python "$PY" .venv-dev
  $UV pip install --quiet --python .venv-dev/bin/python -e ".[dev]"
fi
exec .venv-dev/bin/python -m pytest "$@"
