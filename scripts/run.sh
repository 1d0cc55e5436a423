#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, import the shipped sample data into the
# local catalog (./.sextant) and print its quality reports. Extra arguments go to `sextant demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
cargo build -p sextant --bin sextant
exec "$CARGO_TARGET_DIR/debug/sextant" demo "$@"
