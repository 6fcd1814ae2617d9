#!/usr/bin/env bash
# The web UI's front end (ui/): its npm packages, its build and its tests.
# The built bundle, ui/dist, is committed and embedded in the tarn binary
# (package ui), so `go build` needs neither Node nor npm; this script is for
# changing the front end and for CI to check the bundle.
#   scripts/ui.sh install   npm ci (the exact packages of ui/package-lock.json)
#   scripts/ui.sh build     rebuild ui/dist from ui/src (commit the result)
#   scripts/ui.sh check     fail if ui/dist differs from a fresh build of ui/src
#   scripts/ui.sh test      the front end's unit tests (vitest)
set -euo pipefail
cd "$(dirname "$0")/../ui"

need_node() {
  command -v node >/dev/null && command -v npm >/dev/null || { echo "ui: Node.js 20.19+ and npm are needed (scripts/setup.sh)" >&2; exit 1; }
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)||a===21?0:1)' ||
    { echo "ui: Node.js $(node --version) is too old for Vite 8: 20.19+ or 22.12+ is needed" >&2; exit 1; }
}

install() {
  need_node
  # npm ci is slow; skip it when node_modules already matches the lock file.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

case "${1:-}" in
  install) install ;;
  build) install; npx vite build --logLevel warn; echo "ui: built ui/dist ($(du -sh dist | cut -f1)); commit it" ;;
  check)
    install
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    npx vite build --logLevel warn --outDir "$out" --emptyOutDir
    if ! diff -r "$out" dist >/dev/null; then
      diff -r "$out" dist | head -20 >&2
      echo "ui: ui/dist is not the build of ui/src: run scripts/ui.sh build and commit ui/dist" >&2
      exit 1
    fi
    gz=$(cat dist/assets/*.js dist/assets/*.css | gzip -9 | wc -c)
    echo "ui: ui/dist matches its sources ($((gz / 1024)) KiB gzipped)"
    ;;
  test) install; npx vitest run ;;
  *) echo "usage: scripts/ui.sh install|build|check|test" >&2; exit 2 ;;
esac
