//! Whole-node and whole-federation scenarios; see the files under `tests/tests/`.
