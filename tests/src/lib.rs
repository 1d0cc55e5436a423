//! Workspace-level end-to-end tests: whole workflows across crates (backtest to registry to
//! control plane) land here with the issues that build them. The CLI's own end-to-end tests,
//! the README's main job included, live in `app/tests/cli.rs`, where the binary is at hand.
