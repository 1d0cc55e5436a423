#!/usr/bin/env bash
# The main job on a fresh machine: set up, build the server and the browser half, then start
# the control plane on an embedded SQLite database and a local artifacts folder (./.sextant),
# seeded on first start with the sample data, a finished demo experiment, a registered model
# and a backtest. It prints the address and, on first start, the admin's one-time password.
# Extra arguments go to `sextant serve` (for example --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
# The same build as the test command (every target of the workspace): cargo resolves one
# feature set for it, so running the tests after this (or this after the tests) rebuilds nothing.
cargo build --workspace --all-targets
scripts/build-web.sh
exec "$CARGO_TARGET_DIR/debug/sextant" serve "$@"
