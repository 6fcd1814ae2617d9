#!/usr/bin/env bash
# Checks that tarn serve and api/openapi.yaml agree: starts a real server
# on a fresh temporary home with a (non-admin) user's token and runs
# schemathesis (installed into .venv by scripts/setup.sh) with every check
# on (responses within 15 s), a bounded number of examples per operation,
# and zero failures allowed. One worker: with two, Python 3.11.7's ast.parse
# in hypothesis fails now and then ("AST constructor recursion depth
# mismatch"). SCHEMATHESIS_EXAMPLES (default 300: about two minutes on 2 cores) trades time for depth;
# extra arguments go to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TARN_BIN:-}" ]; then ./scripts/build.sh; fi
TARN=${TARN_BIN:-$PWD/bin/tarn}
# Through the interpreter, not .venv/bin/schemathesis, whose first line
# names the path the venv was built at.
.venv/bin/python -c "import schemathesis" 2>/dev/null || { echo "schemathesis: it is not in .venv: run ./scripts/setup.sh" >&2; exit 1; }
ST=(.venv/bin/python -c "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())")

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
export TARN_CONFIG="$work/no-profile.yml"
unset TARN_ENDPOINT TARN_TOKEN
# A lakehouse with a table and a branch of the user's, so reads find something.
printf 'id,zone\n1,a\n2,b\n' > "$work/trips.csv"
"$TARN" table create trips --from "$work/trips.csv" --home "$home" >/dev/null
"$TARN" branch create fuzz.dev --home "$home" >/dev/null
token=$("$TARN" user add fuzz --home "$home" -o json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "schemathesis: could not create a user" >&2; exit 1; }

"$TARN" serve --home "$home" --addr 127.0.0.1:0 --grace 2s --ready-file "$work/ready.json" 2>"$work/serve.log" &
server=$!
url=""
for _ in $(seq 400); do
  [ -s "$work/ready.json" ] && url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$work/ready.json") && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.05
done
[ -n "$url" ] || { echo "schemathesis: tarn serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

echo "schemathesis: $url (home $home), ${SCHEMATHESIS_EXAMPLES:-300} examples per operation"
status=0
"${ST[@]}" --config-file scripts/schemathesis.toml run api/openapi.yaml --url "$url" \
  -H "Authorization: Bearer $token" --checks all --max-examples "${SCHEMATHESIS_EXAMPLES:-300}" \
  --max-response-time 15 --workers 1 --seed "${SCHEMATHESIS_SEED:-1}" --generation-database none --no-color \
  --report junit --report-dir "$work/report" "$@" || status=$?
if [ "$status" != 0 ] && grep -q " 5[0-9][0-9] " "$work/serve.log"; then
  echo "--- server errors (tarn serve log) ---" >&2
  grep " 5[0-9][0-9] " "$work/serve.log" | tail -20 >&2
fi
exit "$status"
