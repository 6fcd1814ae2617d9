#!/usr/bin/env bash
# Builds the tarn binary into ./bin/tarn.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/tarn ./cmd/tarn
