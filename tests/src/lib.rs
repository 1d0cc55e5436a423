//! Workspace-level end-to-end tests: whole workflows driven the way a new user drives them,
//! through the README's commands and the real binary. The tests live in `tests/tests/`.
