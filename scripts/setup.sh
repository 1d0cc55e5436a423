#!/usr/bin/env bash
# Installs what building Sextant needs on a fresh Debian/Ubuntu machine: a C compiler and
# pkg-config for the -sys crates, and a Rust toolchain when none is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"; fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq cargo rustc; else sudo apt-get install -y -qq cargo rustc; fi
fi
# The control plane's browser half: the WebAssembly target, the wasm-bindgen CLI at the exact
# version Cargo.lock pins, Swagger UI from npm, and Debian's Chromium + ChromeDriver for the
# browser tests (nothing downloads a browser or a tool from outside the registries).
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
wb_version="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
if ! wasm-bindgen --version 2>/dev/null | grep -q "$wb_version"; then
  cargo install wasm-bindgen-cli --version "$wb_version" --quiet
fi
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; fi
fi
if [ ! -d app/web/node_modules/swagger-ui-dist ] && command -v npm >/dev/null 2>&1; then
  (cd app/web && npm ci --no-audit --no-fund --silent)
fi
# The official MLflow client, in its own virtual environment, for the registry's compatibility
# tests (SEXTANT_TEST_PYTHON points there; scripts/env.sh sets it); numpy and pandas let it log
# and load pyfunc models (MLflow 3's logged models).
venv="${SEXTANT_PY_VENV:-$HOME/.cache/sextant-py}"
if ! "$venv/bin/python" -c "import mlflow.pyfunc" >/dev/null 2>&1; then
  python3 -m venv "$venv" 2>/dev/null || { python3 -m pip install --quiet virtualenv && python3 -m virtualenv -q "$venv"; }
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "mlflow-skinny>=2.10" numpy pandas
fi
