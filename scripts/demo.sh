#!/usr/bin/env bash
# The main job on the embedded default: create a lakehouse from sample data,
# branch, run a pipeline (examples/taxi) on the branch, query the result,
# merge, query the past and show the log. Uses a fresh TARN_HOME under
# .demo/ unless TARN_HOME is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh   # uv, bubblewrap, Go modules (idempotent)
./scripts/build.sh
export TARN_HOME=${TARN_HOME:-$PWD/.demo/home}
rm -rf "$TARN_HOME"
tarn() {
  local shown="" a
  for a in "$@"; do
    if [[ "$a" =~ [[:space:]*\(\)\;\"] ]]; then shown+=" '$a'"; else shown+=" $a"; fi
  done
  echo; echo "\$ tarn$shown"
  ./bin/tarn "$@"
}

# A lakehouse with two tables on main, and a tag.
tarn table create trips --from examples/data/trips_2026_01.csv --partition-by "day(pickup_at)" -m "January trips"
tarn table create zones --from examples/data/zones.jsonl
tarn tag create v1

# A branch: new data, then the pipeline (pandas model, SQL model, expectation) on it.
tarn branch create dev
tarn table import trips --from examples/data/trips_2026_02.csv --ref dev -m "add February"
tarn run -p examples/taxi --ref dev
echo; echo "# the same run again: nothing changed, so every step comes from the cache"
tarn run -p examples/taxi --ref dev
tarn query "select * from borough_stats" --ref dev
tarn branch diff dev

# Publish: merge dev into main, query main and the past.
tarn branch merge dev --into main -m "publish February and the borough stats"
tarn query "select count(*) as trips, round(sum(fare), 2) as fares from trips"
tarn query "select count(*) as trips, round(sum(fare), 2) as fares from trips" --ref v1
tarn table ls
tarn log -n 4
echo
echo "demo lakehouse is in $TARN_HOME"
