#!/usr/bin/env bash
# Two banyan builds side by side, in one interleaved run: throughput and CPU time per
# request of each, on the byte-level path and hyper's, legacy passthrough and native ping,
# in front of the load benchmark's fast upstream. For a change that must not cost CPU:
#
#   git worktree add /tmp/before main && (cd /tmp/before && cargo build --release --bin banyan)
#   scripts/bench-compare.sh /tmp/before/target/release/banyan target/release/banyan
#
# Options (after the two binaries): --rounds N (5), --duration SECS (5), --connections "32 256".
# CPU is every thread's run time from /proc/PID/task/*/schedstat (nanoseconds), divided
# by the requests wrk completed against that process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

old=$(realpath "$1") new=$(realpath "$2")
shift 2
rounds=5 duration=5 connections="32 256"
while (($#)); do
    case "$1" in
        --rounds) rounds=$2 ;;
        --duration) duration=$2 ;;
        --connections) connections=$2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --example upstream

work=$(mktemp -d)
# Every process started, one pid a line (banyans start in subshells, so not an array).
trap 'kill $(cat "$work/pids") 2>/dev/null; rm -rf "$work"' EXIT

target/release/examples/upstream > "$work/upstream.out" &
echo $! >> "$work/pids"
until grep -q LISTENING "$work/upstream.out"; do sleep 0.05; done
upstream=$(awk '/LISTENING/ {print $2}' "$work/upstream.out")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME BINARY CONFIG FLAGS: a banyan on a free port; prints "port pid".
start() {
    local dir="$work/$1" port admin
    mkdir -p "$dir"
    printf '%b' "$3" > "$dir/banyan.toml"
    printf '%b' "$4" > "$dir/flags.toml"
    port=$(free_port) admin=$(free_port)
    BANYAN_LOG=warn "$2" serve --config "$dir/banyan.toml" --flags "$dir/flags.toml" \
        --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --legacy "http://127.0.0.1:$upstream" &
    echo $! >> "$work/pids"
    until curl -s -o /dev/null "http://127.0.0.1:$admin/healthz"; do sleep 0.05; done
    echo "$port $!"
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ sum += $1 } END { printf "%.0f\n", sum }'; }

legacy_flags='[routes.info]\npath = "/api/1/info"\nmethods = ["GET"]\n'
native_flags='[routes.ping]\npath = "/api/1/ping"\nmethods = ["GET"]\nnative = 100\n'
hyper='[server]\nbyte_passthrough = false\n'
cases=("legacy, byte path|$legacy_flags|" "legacy, hyper path|$legacy_flags|$hyper"
       "native, byte path|$native_flags|" "native, hyper path|$native_flags|$hyper")

declare -A port pid
for i in "${!cases[@]}"; do
    IFS='|' read -r _ flags config <<<"${cases[$i]}"
    for build in old new; do
        binary=$old
        [ "$build" = new ] && binary=$new
        read -r port["$i,$build"] pid["$i,$build"] < <(start "$i-$build" "$binary" "$config" "$flags")
    done
done

results="$work/results"
for conns in $connections; do
    for round in $(seq 1 "$rounds"); do
        for i in "${!cases[@]}"; do
            # Alternate which build goes first.
            order="old new"
            (( (round + i) % 2 )) && order="new old"
            for build in $order; do
                p=${port["$i,$build"]} q=${pid["$i,$build"]}
                before=$(cpu_ns "$q")
                out=$(wrk -t2 -c"$conns" -d"${duration}s" "http://127.0.0.1:$p/api/1/ping")
                after=$(cpu_ns "$q")
                requests=$(awk '/requests in/ {print $1}' <<<"$out")
                rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
                per=$(awk -v a="$after" -v b="$before" -v n="$requests" 'BEGIN { printf "%.0f", (a - b) / n }')
                echo "$conns|$i|$build|$rps|$per" >> "$results"
                echo "  c$conns round $round, ${cases[$i]%%|*}, $build: $rps req/s" >&2
            done
        done
    done
done

echo "| case | connections | old req/s | new req/s | old CPU ns/req | new CPU ns/req | new/old CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for conns in $connections; do
    for i in "${!cases[@]}"; do
        med() { awk -F'|' -v c="$conns" -v i="$i" -v b="$1" -v f="$2" '$1==c && $2==i && $3==b {print $f}' "$results" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
        orps=$(med old 4) nrps=$(med new 4) ocpu=$(med old 5) ncpu=$(med new 5)
        ratio=$(awk -v o="$ocpu" -v n="$ncpu" 'BEGIN { printf "%.3f", n / o }')
        echo "| ${cases[$i]%%|*} | $conns | ${orps%.*} | ${nrps%.*} | $ocpu | $ncpu | $ratio |"
    done
done
