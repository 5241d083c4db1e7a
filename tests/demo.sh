#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds, and runs `brevdue demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build -q -p brevdue-cli
exec target/debug/brevdue demo "$@"
