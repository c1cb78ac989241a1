#!/usr/bin/env bash
# Instructions banyan spends per request, under callgrind: one keep-alive client sends
# `GET /api/1/ping` through banyan (one worker) in front of the load benchmark's fast
# upstream; a run of 1 request is subtracted from a run of 2,001, so start-up is left out.
# Deterministic where wall-clock CPU on a shared 2-core machine is not. Banyan logs as it
# does by default (the access log on, to stderr, here a file); `--config-extra
# 'access_log = false'` measures without it.
#
#   scripts/bench-callgrind.sh [--binary FILE] [--native 0|100] [--flags-extra 'record = 100'] [--config-extra 'access_log = false']
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

binary=target/release/banyan native=100 extra="" config_extra=""
while (($#)); do
    case "$1" in
        --binary) binary=$2 ;;
        --native) native=$2 ;;
        --flags-extra) extra=$2 ;;
        --config-extra) config_extra=$2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --quiet --bin banyan --example upstream

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
upstream_port=$((20000 + RANDOM % 10000))
target/release/examples/upstream "127.0.0.1:$upstream_port" >/dev/null 2>&1 &
printf '[routes.ping]\npath = "/api/1/ping"\nmethods = ["GET"]\nnative = %s\n%s\n' "$native" "$extra" >"$work/flags.toml"
printf '[server]\nworkers = 1\n%s\n' "$config_extra" >"$work/banyan.toml"

instructions() {
    local n=$1 port=$((30000 + RANDOM % 10000))
    BANYAN_LOG=info valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" "$binary" serve \
        --config "$work/banyan.toml" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" \
        --legacy "http://127.0.0.1:$upstream_port" --flags "$work/flags.toml" >"$work/log.$n" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    python3 - "$port" "$n" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/api/1/ping")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    grep -E '^(summary|totals):' "$work/cg.$n" | head -1 | awk '{print $2}'
}

one=$(instructions 1)
many=$(instructions 2001)
echo "native=$native ${extra:+($extra) }${config_extra:+[$config_extra] }instructions per request: $(((many - one) / 2000))"
