#!/usr/bin/env bash
# A private S3-compatible server for the integration tests (and for trying
# an s3:// warehouse by hand): versitygw over a temporary folder (its posix
# backend), on a free loopback port, with one bucket.
#
#   scripts/versitygw.sh start   # prints the environment to use it (also in .tmp/versitygw.env)
#   scripts/versitygw.sh env     # prints it again while it runs
#   scripts/versitygw.sh stop    # stops it and removes its folder
#
# The environment is AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, TARN_TEST_S3_BUCKET (a bucket made
# at start) and TARN_TEST_S3_DIR (the posix folder holding the buckets, one
# folder each: a test may age an object by setting its file's modification
# time, which the server reports as LastModified), as lines of NAME=VALUE:
# `set -a; . .tmp/versitygw.env`.
# Needs versitygw v1.8.0 (scripts/setup.sh installs it with go install).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STATE="$REPO/.tmp/versitygw.env"
DIR=${TARN_S3_DIR:-/tmp/tarn-s3-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)}
ACCESS=tarntest
SECRET=tarntest-secret
BUCKET=tarn-test

bin() {
  local b
  for b in "$(go env GOPATH 2>/dev/null)/bin/versitygw" "$HOME/go/bin/versitygw" "$(command -v versitygw 2>/dev/null || true)"; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return; }
  done
  echo "versitygw.sh: versitygw is missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or run scripts/setup.sh" >&2
  exit 1
}

. scripts/free-port.sh

running() {
  [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

case "${1:-}" in
start)
  if running && [ -f "$STATE" ]; then
    cat "$STATE"
    exit 0
  fi
  BIN=$(bin)
  rm -rf "$DIR"
  mkdir -p "$DIR/data" "$REPO/.tmp"
  PORT=$(free_port versitygw.sh 57070 57170 47070 47170)
  # The posix backend keeps multipart uploads' part ETags (and objects'
  # metadata) in user extended attributes: without them (--nometa) every
  # multipart upload fails at CompleteMultipartUpload with InvalidPart,
  # which is how pyarrow's S3 file system writes even small files.
  META=()
  touch "$DIR/xattr-probe"
  if ! python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.tarn", b"1")' "$DIR/xattr-probe" 2>/dev/null; then
    echo "versitygw.sh: $DIR has no user extended attributes: multipart uploads will fail (set TARN_S3_DIR to a folder on ext4 or xfs)" >&2
    META=(--nometa)
  fi
  rm -f "$DIR/xattr-probe"
  setsid "$BIN" --port "127.0.0.1:$PORT" --access "$ACCESS" --secret "$SECRET" posix "${META[@]}" "$DIR/data" \
    >"$DIR/server.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    running || { cat "$DIR/server.log" >&2; exit 1; }
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "versitygw.sh: not listening on 127.0.0.1:$PORT after 10s" >&2; cat "$DIR/server.log" >&2; exit 1; }
  # The posix backend's buckets are the folders of its root.
  mkdir -p "$DIR/data/$BUCKET"
  cat >"$STATE" <<EOF
AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
AWS_ACCESS_KEY_ID=$ACCESS
AWS_SECRET_ACCESS_KEY=$SECRET
AWS_REGION=us-east-1
TARN_TEST_S3_BUCKET=$BUCKET
TARN_TEST_S3_DIR=$DIR/data
EOF
  cat "$STATE"
  ;;
env)
  running && [ -f "$STATE" ] || { echo "versitygw.sh: not running (scripts/versitygw.sh start)" >&2; exit 1; }
  cat "$STATE"
  ;;
stop)
  if running; then
    kill "$(cat "$DIR/pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do running || break; sleep 0.1; done
  fi
  rm -rf "$DIR" "$STATE"
  ;;
*)
  echo "usage: scripts/versitygw.sh start|env|stop" >&2
  exit 2
  ;;
esac
