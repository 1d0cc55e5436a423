#!/usr/bin/env bash
# Runs the whole test suite: unit, property, integration and end-to-end tests of every crate,
# against SQLite and the local PostgreSQL server, the control plane in headless Chromium, then
# the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/services.sh
# The browser tests drive the hydrated pages: build the WebAssembly half first.
scripts/build-web.sh
export SEXTANT_TEST_POSTGRES_URL="${SEXTANT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
cargo test --workspace --doc --quiet
