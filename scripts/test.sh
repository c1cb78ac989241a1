#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets up the legacy app's virtualenv, checks
# formatting and lints, then runs every test (unit and integration, real processes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/legacy/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# Benchmarks once in test mode (each runs one iteration), then every test.
cargo test --benches --quiet
cargo test
