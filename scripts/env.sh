# Sourced by the other scripts: one Cargo target folder outside the checkout, so every clone
# on this machine (and every CI run) reuses the same compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sextant-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
export SEXTANT_TEST_PYTHON="${SEXTANT_TEST_PYTHON:-$HOME/.cache/sextant-py/bin/python}"
