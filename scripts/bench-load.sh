#!/usr/bin/env bash
# The load benchmark in one command: installs what it drives (wrk, nginx, HAProxy, from
# Debian), builds banyan and its helpers in release mode, and prints the table that
# docs/benchmarks.md records. Options go to the benchmark, e.g. --duration 10 --rounds 5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
for tool in wrk:wrk nginx:nginx-light haproxy:haproxy; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --quiet --bin banyan --example loadbench --example upstream --example bare-forwarder --example bare-bytes --example ws-upstream
exec target/release/examples/loadbench "$@"   # e.g. --only soak --soak-secs 600
