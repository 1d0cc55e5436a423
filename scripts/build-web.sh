#!/usr/bin/env bash
# Builds the control plane's browser half: the `web` crate compiled to WebAssembly with the
# `hydrate` feature, bound by wasm-bindgen into DIR/pkg/sextant.js + sextant_bg.wasm, beside
# the `sextant` binary (target/PROFILE/site), where `sextant serve` looks by default.
# Usage: scripts/build-web.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
profile="${1:-debug}"
flags=()
[ "$profile" = release ] && flags+=(--release)
cargo rustc -p sextant-web --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --crate-type cdylib "${flags[@]}" --quiet
site="$CARGO_TARGET_DIR/$profile/site"
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --out-name sextant --out-dir "$site/pkg" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/web.wasm"
# Swagger UI for /api/v1/docs, from the npm registry (scripts/setup.sh runs `npm ci`).
if [ -d app/web/node_modules/swagger-ui-dist ]; then
  mkdir -p "$site/pkg/swagger"
  cp app/web/node_modules/swagger-ui-dist/{swagger-ui.css,swagger-ui-bundle.js} "$site/pkg/swagger/"
fi
echo "web: $(du -h "$site/pkg/sextant_bg.wasm" | cut -f1) of WebAssembly in $site/pkg"
