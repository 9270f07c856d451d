#!/usr/bin/env bash
# Build a Home Assistant test environment; runs inside the chroot that ha_chroot.sh makes, with
# the repository at /src:
#
#   bash /src/scripts/ha_chroot_venv.sh VENV PYTHON HA_VERSION PHCC_VERSION
#
# VENV gets Home Assistant HA_VERSION, pytest-homeassistant-custom-component PHCC_VERSION, the
# requirements of Home Assistant's own modbus integration (whose shared Modbus connection the
# integration uses on releases that have one) and this project, editable, with its test extra.
# Everything is installed under Home Assistant's own constraints file, so that each package is the
# version that Home Assistant release was tested with, or the install fails loudly.

set -euo pipefail

venv=${1:?VENV} python=${2:?PYTHON} ha_version=${3:?HA_VERSION} phcc_version=${4:?PHCC_VERSION}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet uv
"$venv/bin/python" -m pip download --quiet --no-deps --dest "$work" "homeassistant==$ha_version"
wheels=("$work"/homeassistant-*.whl)
wheel=${wheels[0]}

# Home Assistant's constraints come from its wheel, and so do the modbus integration's
# requirements, which Home Assistant would only install when that integration is first set up.
# A constraint names no extras, so "modbus-connection[tmodbus]==X" constrains modbus-connection.
"$venv/bin/python" - "$wheel" "$work/constraints.txt" "$work/modbus.txt" <<'PY'
import json
from pathlib import Path
import re
import sys
import zipfile

wheel, constraints_path, modbus_path = sys.argv[1:]


def name(requirement: str) -> str:
    """Return a requirement's normalized project name."""
    return re.split(r"[\s\[=<>!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


with zipfile.ZipFile(wheel) as archive:
    constraints = archive.read("homeassistant/package_constraints.txt").decode().splitlines()
    manifest = json.loads(archive.read("homeassistant/components/modbus/manifest.json"))
modbus = manifest["requirements"]
pinned = {name(line) for line in constraints if line.strip() and not line.startswith("#")}
constraints += [re.sub(r"\[[^\]]*\]", "", r) for r in modbus if name(r) not in pinned]
Path(constraints_path).write_text("\n".join(constraints) + "\n", encoding="utf-8")
Path(modbus_path).write_text("\n".join(modbus) + "\n", encoding="utf-8")
print("Home Assistant's modbus integration requires:", " ".join(modbus))
PY
cp "$work/constraints.txt" "$venv/constraints.txt"

"$venv/bin/uv" pip install --python "$venv/bin/python" --constraint "$venv/constraints.txt" \
    "$wheel" "pytest-homeassistant-custom-component==$phcc_version" \
    --requirement "$work/modbus.txt" --editable "/src[test]"
"$venv/bin/uv" pip check --python "$venv/bin/python"
