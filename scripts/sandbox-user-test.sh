#!/usr/bin/env bash
# Runs the sandbox test suite (runtime: attacks from inside a worker, the
# egress proxy, the warm pool) again as an ordinary user, as tarn runs on
# a laptop: bubblewrap in a user namespace, limits by rlimits (no cgroup).
# Called by scripts/test.sh when the tests run as root; needs useradd and
# runuser (Debian: passwd, util-linux) and Debian's python3.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "sandbox-user-test: run as root (it creates the user tarn-test)" >&2; exit 2; }
USER_NAME=tarn-test
id "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$USER_NAME"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "sandbox-user-test: needs $PY (Debian: apt-get install python3)" >&2; exit 1; }
UV=$(command -v uv || true)
[ -n "$UV" ] || UV="python3 -m uv"

# Everything the user needs, where the user can read it (the repository
# may live under a directory only root may enter).
WORK=$(mktemp -d /tmp/tarn-user-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/runtime" "$WORK/python"
cp -r python/tarn "$WORK/python/"
go test -c -o "$WORK/runtime/runtime.test" ./runtime
$UV venv --quiet --python "$PY" "$WORK/venv"
$UV pip install --quiet --python "$WORK/venv/bin/python" "pyarrow==26.0.1"
chmod -R a+rX "$WORK"
cd "$WORK/runtime"
runuser -u "$USER_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="/home/$USER_NAME" \
  TARN_PYTHON="$WORK/venv/bin/python" TARN_REQUIRE_SANDBOX=1 \
  ./runtime.test -test.count=1 -test.run 'TestSandbox|TestEgress|TestPool' "$@"
