#!/usr/bin/env bash
# Creates (or refreshes) the virtualenv of the legacy test app: the gevent/Flask stack
# rotki v1.43.2 runs on, pinned in requirements.txt. Idempotent and quiet when up to date,
# so every test run can call it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
python="${PYTHON:-python3}"
echo "setting up the legacy test app's virtualenv in $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "$want" > "$stamp"
