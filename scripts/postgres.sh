#!/usr/bin/env bash
# A private PostgreSQL for the integration tests (and for trying tarn's
# shared catalog by hand): a fresh cluster in a temporary folder, on a free
# loopback port, with password authentication over TCP.
#
#   scripts/postgres.sh start   # prints the DSN; also written to .tmp/postgres.dsn
#   scripts/postgres.sh dsn     # prints the DSN of the running cluster
#   scripts/postgres.sh stop    # stops it and removes its folder
#
# The DSN is postgres://tarn:tarn@127.0.0.1:PORT/tarn (user tarn owns
# database tarn and may create databases and schemas). As root, the cluster
# runs as the OS user postgres (initdb refuses root). Needs PostgreSQL's
# server binaries (Debian: apt-get install postgresql; scripts/setup.sh
# installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STATE="$REPO/.tmp/postgres.dsn"
# The cluster lives under /tmp: the OS user postgres must be able to reach
# it, which a repository under a root-only folder would not allow.
DIR=${TARN_PG_DIR:-/tmp/tarn-pg-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)}

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  echo "postgres.sh: PostgreSQL's server binaries (initdb, pg_ctl) are missing: apt-get install postgresql, or run scripts/setup.sh" >&2
  exit 1
}

# as runs a command as the cluster's OS user.
as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

. scripts/free-port.sh

running() {
  [ -f "$DIR/data/postmaster.pid" ] && as "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

BIN=$(bindir)
case "${1:-}" in
start)
  if running && [ -f "$STATE" ]; then
    cat "$STATE"
    exit 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR" "$REPO/.tmp"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  echo "tarn" >"$DIR/pw"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pw"
  as "$BIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pw" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  PORT=$(free_port postgres.sh 55432 55532 45432 45532)
  # Small and fast: the tests' data is throwaway (fsync stays on: the
  # commit latency benchmark measures a durable commit).
  as "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=300 -c shared_buffers=64MB" \
    start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
  as "$BIN/psql" -q -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE tarn LOGIN PASSWORD 'tarn' CREATEDB" -c "CREATE DATABASE tarn OWNER tarn" >/dev/null
  echo "postgres://tarn:tarn@127.0.0.1:$PORT/tarn" >"$STATE"
  cat "$STATE"
  ;;
dsn)
  running && [ -f "$STATE" ] || { echo "postgres.sh: not running (scripts/postgres.sh start)" >&2; exit 1; }
  cat "$STATE"
  ;;
stop)
  if running; then
    as "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
  fi
  rm -rf "$DIR" "$STATE"
  ;;
*)
  echo "usage: scripts/postgres.sh start|dsn|stop" >&2
  exit 2
  ;;
esac
