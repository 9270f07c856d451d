#!/usr/bin/env bash
# Start a simulated PRO380 energy meter on 127.0.0.1 and read it live: `bash scripts/demo.sh`.
#
# Builds a small virtual environment under .venvs/demo on the first run (Python 3.11 or newer,
# the project and pymodbus; no Home Assistant), then runs `powerbus demo`. Extra arguments go to
# `powerbus demo`, e.g. `bash scripts/demo.sh --count 5`. Stop it with Ctrl-C.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO_ROOT/.venvs/demo"

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 or newer is needed; none was found on PATH." >&2
    return 1
}

if [[ ! -x "$VENV/bin/powerbus" ]] || [[ "$REPO_ROOT/pyproject.toml" -nt "$VENV/.installed" ]]; then
    PYTHON=$(find_python)
    echo "Setting up $VENV with $("$PYTHON" --version) (first run only)..." >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$REPO_ROOT"
    touch "$VENV/.installed"
fi

exec "$VENV/bin/powerbus" demo "$@"
