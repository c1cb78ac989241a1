#!/usr/bin/env bash
# Runs the whole thing locally: the legacy app (tests/legacy, the gevent/Flask stack rotki
# uses) on 127.0.0.1:5042, and banyan in front of it on 127.0.0.1:4242 with the repo's
# config/banyan.toml and flags.toml. Ctrl-C stops both. What the demo writes (rotki's data,
# banyan's audit log) stays under target/run-local/, so the checkout stays clean; edits
# made through the admin API or the dashboard go to flags.toml, as they would in
# production. BANYAN_BIN runs a banyan already built instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/legacy/setup.sh
banyan="${BANYAN_BIN:-}"
if [[ -z "$banyan" ]]; then
    cargo build --quiet --bin banyan
    banyan=target/debug/banyan
fi

state="$PWD/target/run-local"
data_dir="${ROTKI_DATA_DIR:-$state/rotki-data}"
mkdir -p "$data_dir"
# The repo's config, with the audit log kept with the demo's state.
{ cat config/banyan.toml; printf '\n[admin]\naudit_log = "%s/banyan-audit.jsonl"\n' "$state"; } >"$state/banyan.toml"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

coproc LEGACY { exec tests/legacy/.venv/bin/python tests/legacy/app.py --port 5042 --data-dir "$data_dir"; }
pids+=("$LEGACY_PID")
read -r line <&"${LEGACY[0]}"
[[ "$line" == LISTENING* ]] || { echo "legacy app did not start: $line" >&2; exit 1; }

# A token for the dashboard's controls (a local one; set your own in production).
export BANYAN_ADMIN_TOKEN="${BANYAN_ADMIN_TOKEN:-local-admin-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}"
"$banyan" serve --config "$state/banyan.toml" --flags "$PWD/flags.toml" --data-dir "$data_dir" &
banyan_pid=$!
pids+=("$banyan_pid")

# Wait until banyan's admin port accepts connections (bash's /dev/tcp: no curl needed).
for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/4243) 2>/dev/null && break
    sleep 0.05
done
kill -0 "$banyan_pid" 2>/dev/null || { echo "banyan did not start (see above)" >&2; exit 1; }
cat <<MSG

  legacy app:  http://127.0.0.1:5042
  banyan:      http://127.0.0.1:4242      try: curl -i http://127.0.0.1:4242/api/1/ping
  dashboard:   http://127.0.0.1:4243/         admin token: $BANYAN_ADMIN_TOKEN
  admin API:   http://127.0.0.1:4243/api/flags   (docs/operations.md)
  state:       $state (rotki's data, the audit log)

  Edit flags.toml (e.g. native = 0 under [routes.ping]) and watch x-banyan-backend change.
  Ctrl-C stops both.

MSG
wait
