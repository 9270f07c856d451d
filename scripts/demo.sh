#!/usr/bin/env bash
# The one-command demo: `bash scripts/demo.sh`.
#
# Starts, on 127.0.0.1 only: simulated devices (a PRO380 energy meter, a PowerLogic PM800 and a
# Liebert UPS) on one Modbus TCP port, an MQTT broker (mosquitto when it is installed, on a free
# port; otherwise the embedded amqtt broker), and the MQTT bridge with Home Assistant discovery.
# A live view shows what arrives on the broker and the mosquitto_sub line to watch it yourself;
# press m to cut the simulated UPS's mains and see the on-battery state arrive. Ctrl-C (or q)
# stops everything it started.
#
# Builds a small virtual environment under .venvs/demo on the first run (Python 3.11 or newer,
# the project, pymodbus and paho-mqtt; amqtt too when mosquitto is missing; no Home Assistant).
# Extra arguments go to the demo, e.g. `bash scripts/demo.sh --seconds 30`.
# The engine-only demo (a PRO380 read live, no MQTT) is still there: `.venvs/demo/bin/powerbus demo`.
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

# Without mosquitto the demo runs the embedded broker, from the `broker` extra.
TARGET="$REPO_ROOT"
if ! command -v mosquitto >/dev/null 2>&1; then
    TARGET="$REPO_ROOT[broker]"
    echo "mosquitto is not installed: the demo uses the embedded amqtt broker" \
        "(apt-get install mosquitto for the real one)." >&2
fi

STAMP="$VENV/.installed-$(printf '%s' "$TARGET" | sha256sum | cut -c1-12)"
if [[ ! -x "$VENV/bin/python" ]] || [[ ! -f "$STAMP" ]] || [[ "$REPO_ROOT/pyproject.toml" -nt "$STAMP" ]]; then
    PYTHON=$(find_python)
    echo "Setting up $VENV with $("$PYTHON" --version) (first run only)..." >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$TARGET"
    rm -f "$VENV"/.installed*
    touch "$STAMP"
fi

exec "$VENV/bin/python" -m mqtt_bridge.demo "$@"
