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
