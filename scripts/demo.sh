#!/usr/bin/env bash
# The main job on the embedded default: create a lakehouse, import sample
# data, branch, change, merge and show the log. Uses a fresh TARN_HOME
# under .demo/ (remove it to start over) unless TARN_HOME is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
export TARN_HOME=${TARN_HOME:-$PWD/.demo/home}
rm -rf "$TARN_HOME"
tarn() { echo; echo "\$ tarn $(printf '%q ' "$@")"; ./bin/tarn "$@"; }

tarn table create trips --from examples/data/trips_2026_01.csv --partition-by "day(pickup_at)" -m "January trips"
tarn tag create v1
tarn branch create dev
tarn checkout dev
tarn table import trips --from examples/data/trips_2026_02.csv -m "add February"
tarn checkout main
tarn table create zones --from examples/data/zones.jsonl
tarn branch diff dev
tarn branch merge dev -m "publish February"
tarn table ls
tarn table ls --ref v1
tarn table get trips
tarn log -n 5
echo
echo "demo lakehouse is in $TARN_HOME"
