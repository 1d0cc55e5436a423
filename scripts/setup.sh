#!/usr/bin/env bash
# Installs what building Sextant needs on a fresh Debian/Ubuntu machine: a C compiler and
# pkg-config for the -sys crates, and a Rust toolchain when none is on PATH.
set -euo pipefail
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
# The official MLflow client, in its own virtual environment, for the registry's compatibility
# tests (SEXTANT_TEST_PYTHON points there; scripts/env.sh sets it).
venv="${SEXTANT_PY_VENV:-$HOME/.cache/sextant-py}"
if ! "$venv/bin/python" -c "import mlflow" >/dev/null 2>&1; then
  python3 -m venv "$venv" 2>/dev/null || { python3 -m pip install --quiet virtualenv && python3 -m virtualenv -q "$venv"; }
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "mlflow-skinny>=2.10"
fi
