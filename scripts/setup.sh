#!/usr/bin/env bash
# Installs everything tarn's build, demo and tests need on a fresh machine:
# Go modules, a Python environment (built with uv) holding PyIceberg for
# the integration tests, Chromium and Firefox for the web UI's browser tests
# and the front end's npm packages. Idempotent: a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "setup: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
echo "setup: downloading Go modules"
# Only what the build and tests of this platform need (go mod download would
# also fetch DuckDB's libraries for every other platform).
go list -deps -test ./... >/dev/null
go list -deps -test -tags integration ./integration/... >/dev/null
go list -deps -test -tags integration,browser ./integration/... >/dev/null

# bubblewrap gives pipeline workers a sandbox (read-only root, no network,
# the lakehouse home hidden); without it tarn falls back to weaker isolation.
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing bubblewrap (Debian package)"
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap; } >/dev/null 2>&1; then
    echo "setup: could not install bubblewrap; pipelines will run with weaker isolation" >&2
  fi
fi

# PostgreSQL's server binaries: the integration tier runs the shared
# catalog, users, jobs and several servers on a private cluster that
# scripts/postgres.sh starts (never the system's own).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing postgresql (Debian package) for the integration tests"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq postgresql; } >/dev/null 2>&1 || echo "setup: could not install postgresql" >&2
fi

# versitygw: the S3-compatible server of the integration tier (tables in
# an s3:// warehouse), started on loopback by scripts/versitygw.sh.
VGW="$(go env GOPATH)/bin/versitygw"
if [ ! -x "$VGW" ]; then
  echo "setup: installing versitygw v1.8.0 (go install, about 2 minutes) for the integration tests"
  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

# The sandbox suite runs a second time as an ordinary user (scripts/
# sandbox-user-test.sh), with Debian's python3, which that user can reach.
if [ "$(id -u)" = 0 ] && [ ! -x /usr/bin/python3 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing python3 (Debian package) for the sandbox tests as an ordinary user"
  { apt-get update -qq && apt-get install -y -qq python3; } >/dev/null 2>&1 || echo "setup: could not install python3" >&2
fi

# The browser tests of the web UI drive Debian's Chromium (chromedp).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${TARN_CHROMIUM:-}" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing chromium (Debian package) for the web UI's browser tests"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; } >/dev/null 2>&1 || echo "setup: could not install chromium" >&2
fi
# And Debian's Firefox ESR, driven over its own WebDriver BiDi server (no
# geckodriver): the UI must work in both.
if ! command -v firefox-esr >/dev/null 2>&1 && ! command -v firefox >/dev/null 2>&1 && [ -z "${TARN_FIREFOX:-}" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing firefox-esr (Debian package) for the web UI's browser tests"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq firefox-esr; } >/dev/null 2>&1 || echo "setup: could not install firefox-esr" >&2
fi
# The front end's packages (ui/package-lock.json): its unit tests, the check
# that the committed bundle ui/dist is the build of ui/src, and axe-core for
# the browser tests. tarn itself builds without them.
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing nodejs and npm (Debian packages)"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nodejs npm; } >/dev/null 2>&1 || echo "setup: could not install nodejs" >&2
fi
echo "setup: installing the web UI's npm packages (ui/package-lock.json)"
./scripts/ui.sh install

PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1 && ! "$PY" -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv"
  "$PY" -m pip install --quiet --disable-pip-version-check uv
fi
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"

# The repo's own venv: the SDK's tests (pandas, polars, duckdb outputs) and
# PyIceberg reading tarn's tables in the integration tests.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import pyiceberg, pyarrow, pytest, pandas, polars, duckdb" >/dev/null 2>&1; then
  echo "setup: creating .venv with pyiceberg, pyarrow, pandas, polars, duckdb, pytest"
  [ -x .venv/bin/python ] || $UV venv --quiet --python "$PY" .venv
  $UV pip install --quiet --python .venv/bin/python "pyiceberg==0.9.*" "pyarrow==26.0.1" "pandas==2.2.3" "polars==1.9.0" "duckdb==1.5.6" pytest
fi
# schemathesis checks tarn serve against api/openapi.yaml (scripts/schemathesis.sh).
if ! .venv/bin/python -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '4.32.5')" >/dev/null 2>&1; then
  echo "setup: installing schemathesis 4.32.5 into .venv"
  $UV pip install --quiet --python .venv/bin/python "schemathesis==4.32.5"
fi
# The engines the Iceberg REST catalog is tested with (DuckDB, Spark).
PYTHON="$PY" ./scripts/engines.sh
echo "setup: done"
