#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets up the legacy app's virtualenv, checks
# formatting and lints, then runs every test (unit and integration, real processes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/legacy/setup.sh
# The dashboard test drives Debian's headless Chromium through chromedriver; the front
# door's test compares banyan with Debian's nginx.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v nginx >/dev/null; then
    as_root=""
    [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update -qq
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver nginx-light >/dev/null
fi
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# Benchmarks once in test mode (each runs one iteration), then every test.
cargo test --benches --quiet
cargo test
