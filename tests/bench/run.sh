#!/usr/bin/env bash
# Builds the release binary and runs the benchmark (see run.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/install-deps.sh
cargo build --release -p brevdue-cli
exec python3 tests/bench/run.py "$@"
