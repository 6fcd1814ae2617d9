#!/usr/bin/env bash
# Runs every test tier: the fast self-contained Go tests, the Python SDK
# tests, the API document against a real server (schemathesis), the
# integration tier (real processes, PyIceberg reading tarn's tables, a
# private PostgreSQL for the shared catalog, users, jobs and several
# servers: scripts/postgres.sh; an S3-compatible server for s3://
# warehouses: scripts/versitygw.sh; both stopped at the end), then the
# web UI: its unit tests, the check that ui/dist is the build of its
# sources, and its browser tests (headless Chromium and Firefox against tarn serve).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
export TARN_BIN="$PWD/bin/tarn"
export TARN_PYTHON="${TARN_PYTHON:-$PWD/.venv/bin/python}"
# The engines of the Iceberg REST tests (scripts/engines.sh installs them).
export TARN_DUCKDB_PYTHON="$PWD/.tmp/engines/duckdb/bin/python"
export TARN_SPARK_PYTHON="$PWD/.tmp/engines/spark/bin/python"
export TARN_SPARK_JARS="$(ls "$PWD"/.tmp/engines/jars/iceberg-spark-runtime-*.jar | head -1)"
# The sandbox suite fails instead of skipping where bubblewrap is missing.
export TARN_REQUIRE_SANDBOX=1
echo "== formatting and vet"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))"
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w):"; echo "$unformatted"; exit 1
fi
go vet ./...
go vet -tags integration,browser ./integration/ ./table ./objcache/...
echo "== unit and black-box tests"
# The fast tier needs no database, whatever the caller's environment says.
env -u TARN_TEST_POSTGRES go test -count=1 ./...
echo "== Python SDK tests"
PYTHONPATH="$PWD/python" .venv/bin/python -m pytest -q python/tests
if [ "$(id -u)" = 0 ]; then
  echo "== sandbox tests as an ordinary user"
  ./scripts/sandbox-user-test.sh
fi
echo "== API document against tarn serve (schemathesis)"
./scripts/schemathesis.sh
# A count, not a duration: with a duration go1.26's fuzz coordinator can end a
# clean run with "context deadline exceeded" on a loaded machine
# (go.dev/issue/75804, fixed in go1.27).
echo "== fuzz targets (${TARN_FUZZTIME:-3000x} each; crashers land in testdata/fuzz and become regression tests)"
for target in .:FuzzParseRef table:FuzzRowFilter ingest:FuzzInferCSV ingest:FuzzInferJSONL ingest:FuzzObjectParser ingest:FuzzKeyCheckFlat ingest:FuzzCheckCSVIntegers pipeline:FuzzProjectFile server:FuzzUntar; do
  go test "./${target%%:*}" -run '^$' -fuzz "^${target#*:}\$" -fuzztime "${TARN_FUZZTIME:-3000x}"
done
echo "== integration tests"
trap './scripts/postgres.sh stop; ./scripts/versitygw.sh stop' EXIT
./scripts/postgres.sh start >/dev/null
TARN_TEST_POSTGRES=$(./scripts/postgres.sh dsn)
export TARN_TEST_POSTGRES
./scripts/versitygw.sh start >/dev/null
set -a
. .tmp/versitygw.env
set +a
# Spark's test alone takes minutes on two busy cores.
go test -count=1 -timeout 40m -tags integration ./postgres/... ./integration/...
# The packages' own tests against the S3 server: gc's S3 store (listing
# pages, DeleteObjects batches, conditional writes, incomplete multipart
# uploads), the bucket's folder of queued runs' projects, the metadata
# cache, and the uploader (single and multipart PUTs). With the tag the
# packages' unit tests run again too (some 20 s).
go test -count=1 -tags integration ./table ./objcache/...
echo "== black-box CLI suite against two tarn serve on one PostgreSQL, tables on the S3 server (shared mode)"
TARN_TEST_MODE=shared go test -count=1 -run '^(TestCLI_|TestCLIQuery_|TestRemote)' ./cmd/tarn
echo "== web UI: unit tests and the bundle's check"
./scripts/ui.sh test
./scripts/ui.sh check
echo "== web UI in real browsers (headless Chromium and Firefox)"
export TARN_UI_SHOTS="${TARN_UI_SHOTS:-$PWD/.tmp/ui-screenshots}"
rm -rf "$TARN_UI_SHOTS"
echo "screenshots of each page: $TARN_UI_SHOTS"
TARN_UI_AXE=1 go test -count=1 -tags integration,browser ./integration/ -run 'TestUI_'
