#!/usr/bin/env bash
# TPC-H benchmark: tarn query vs plain DuckDB on the same files.
# Installs tpchgen-cli (PyPI) into .venv, builds tarn and the benchmark,
# then runs it. Arguments go to the benchmark (-sf, -runs, ...).
# Not part of CI: it needs tpchgen-cli and takes minutes at SF1.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/tpchgen-cli ]; then
  [ -x .venv/bin/python ] || ./scripts/setup.sh
  UV=uv; command -v uv >/dev/null 2>&1 || UV="python3 -m uv"
  $UV pip install --quiet --python .venv/bin/python tpchgen-cli
fi
./scripts/build.sh
mkdir -p .tmp
go build -o .tmp/tpch-bench ./bench/tpch
exec .tmp/tpch-bench "$@"
