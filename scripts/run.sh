#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, import the shipped sample data into the
# local catalog (./.sextant) and print its quality reports. Extra arguments go to `sextant demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
# The same build as the test command (every target of the workspace): cargo resolves one
# feature set for it, so running the tests after this (or this after the tests) rebuilds nothing.
cargo build --workspace --all-targets
exec "$CARGO_TARGET_DIR/debug/sextant" demo "$@"
