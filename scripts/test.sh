#!/usr/bin/env bash
# Set up everything the tests need, lint, and run every test: `bash scripts/test.sh`.
#
# Three test environments are built under .venvs/ and reused on later runs:
#   engine  Python 3.11, the newest pymodbus the project allows, ruff and mypy; no Home Assistant.
#   ha      pyenv's Python 3.13.0 with Home Assistant and pytest-homeassistant-custom-component,
#           installed under Home Assistant's own constraints (so pymodbus is Home Assistant's pin):
#           the oldest Home Assistant the integration supports.
#   forky   a Debian forky chroot (scripts/ha_chroot.sh) whose Python 3.14 holds the newest Home
#           Assistant that pytest-homeassistant-custom-component supports, with its constraints and
#           its modbus integration's requirements (scripts/ha_chroot_venv.sh). Home Assistant 2026.3
#           and later need Python 3.14.2, which Debian bookworm lacks. Needs root.
# The engine tests (and mypy) run in engine and ha, so the engine works with the oldest and the
# newest pymodbus; the Home Assistant tests run in ha and in the forky chroot.
#
# Knobs:
#   POWERBUS_SKIP_APT=1        don't check or install the Debian packages
#   POWERBUS_REINSTALL=1       rebuild every environment (and the chroot) even if it looks up to date
#   POWERBUS_SKIP_HA_NEWEST=1  don't build the forky chroot or run the tests on the newest Home Assistant
#   POWERBUS_TEST_ARGS         extra arguments for every pytest run, e.g. "-x -k poller"

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

# --- What gets installed ---------------------------------------------------------------------
# debootstrap builds the chroot for the newest Home Assistant.
readonly APT_PACKAGES=(socat mosquitto mosquitto-clients mbpoll debootstrap)
readonly HA_PYTHON_VERSION=3.13.0
readonly HA_VERSION=2025.4.4
readonly PHCC_VERSION=0.13.236
readonly ENGINE_PYTHON_SERIES=3.11
# The newest Home Assistant with a test harness, tested inside a Debian chroot with its Python and
# the real parts the tests start (socat for virtual serial lines, a mosquitto broker).
readonly NEWEST_HA_VERSION=2026.10.4
readonly NEWEST_PHCC_VERSION=0.13.375
readonly NEWEST_HA_SUITE=forky
readonly NEWEST_HA_PYTHON=python3.14
readonly NEWEST_HA_MIN_PYTHON=3.14.2
readonly NEWEST_HA_CHROOT_PACKAGES=(python3.14-venv ca-certificates socat mosquitto)
# Bump to force every existing environment to be rebuilt after a change to the recipe below.
readonly INSTALL_RECIPE=1

# --- What gets checked -----------------------------------------------------------------------
readonly LINT_PATHS=(custom_components mqtt_bridge tests bench scripts)
# The engine's source folder, type-checked without Home Assistant as the package `powerbus`
# (the name pip installs it under), together with the bridge, against the newest pymodbus.
readonly ENGINE_DIR=custom_components/powerbus/engine
readonly ENGINE_TYPED_PACKAGES=(powerbus mqtt_bridge)
# Type-checked with Home Assistant, against Home Assistant's pymodbus, as
# `custom_components.powerbus` (the engine again, under the name Home Assistant imports it by).
readonly HA_TYPED_PATHS=(custom_components/powerbus)
# Tests that need Home Assistant; every other test folder runs in both environments.
readonly HA_ONLY_TEST_PATHS=(tests/integration)
# The pytest plugin that pytest-homeassistant-custom-component registers. It blocks sockets and
# checks for lingering tasks in every test, so it is only loaded for the Home Assistant tests.
readonly PHCC_PLUGIN=homeassistant

readonly VENV_ROOT="$REPO_ROOT/.venvs"
readonly ENGINE_VENV="$VENV_ROOT/engine"
readonly HA_VENV="$VENV_ROOT/ha"
readonly NEWEST_HA_ROOT="$VENV_ROOT/forky"
# Paths inside the chroot, where the repository is mounted at /src.
readonly NEWEST_HA_VENV=/opt/ha
readonly NEWEST_HA_JUNIT=/tmp/powerbus-junit.xml
# Coverage of the integration's own modules, measured on both Home Assistant releases and combined.
readonly COVERAGE_DIR="$VENV_ROOT/coverage"
readonly NEWEST_HA_COVERAGE_DIR=/src/.venvs/coverage
readonly COVERAGE_ARGS=(--cov=custom_components/powerbus --cov-report=)
readonly COVERAGE_MINIMUM=95
readonly FULLY_COVERED=(
    custom_components/powerbus/config_flow.py
    custom_components/powerbus/device_flow.py
    custom_components/powerbus/options_flow.py
)
readonly HA_CHROOT_SCRIPT=scripts/ha_chroot.sh
readonly HA_CHROOT_VENV_SCRIPT=scripts/ha_chroot_venv.sh
# Home Assistant 2026.10 and later put their own module in place of voluptuous when imported (2026.11
# also of httpx) and mix or refuse the two if the real one was imported first, as pytest's plugins
# do: so pytest starts after Home Assistant is imported.
readonly IMPORT_HA_THEN_RUN_PYTEST='import homeassistant, sys, pytest; sys.exit(pytest.main(sys.argv[1:]))'

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
# uv trusts the system's certificate store (as pip does), not only its own bundled roots.
export UV_SYSTEM_CERTS=1
export UV_NO_PROGRESS=1

# Split like a shell command line, so that quoted arguments (-k "a or b") stay whole.
mapfile -t EXTRA_PYTEST_ARGS < <(xargs -r printf '%s\n' <<<"${POWERBUS_TEST_ARGS:-}")

# --- Step bookkeeping ------------------------------------------------------------------------
RUN_STARTED=$SECONDS
STEP_NAMES=()
STEP_SECONDS=()
STEP_STARTED=0
FAILED_CHECKS=()
TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
TESTS_RUN=0
REPORT_DIR=$(mktemp -d)
trap 'rm -rf "$REPORT_DIR"' EXIT

finish_step() {
    if ((${#STEP_NAMES[@]} > ${#STEP_SECONDS[@]})); then
        STEP_SECONDS+=($((SECONDS - STEP_STARTED)))
    fi
}

step() {
    finish_step
    STEP_NAMES+=("$1")
    STEP_STARTED=$SECONDS
    printf '\n==> [%d] %s\n' "${#STEP_NAMES[@]}" "$1"
}

die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

# A check that failed is reported at the end; the remaining checks still run.
record_failure() {
    FAILED_CHECKS+=("$1")
    printf '\n!!! FAILED: %s\n' "$1"
}

# --- Helpers ---------------------------------------------------------------------------------
installed_version() { # python distribution -> version, or nothing when not installed
    "$1" - "$2" <<'PY'
import sys
from importlib import metadata

try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PY
}

# Reads pyproject.toml's [project] table: `extras-except NAME...` prints the other extras
# (comma separated), `pymodbus` the pymodbus requirement, `fingerprint` the whole table.
project_info() {
    "$ENGINE_BASE_PYTHON" - "$@" <<'PY'
import json
import sys
import tomllib

with open("pyproject.toml", "rb") as handle:
    project = tomllib.load(handle)["project"]
query, *names = sys.argv[1:]
if query == "extras-except":
    print(",".join(sorted(set(project.get("optional-dependencies", {})) - set(names))))
elif query == "pymodbus":
    print(next(d for d in project["dependencies"] if d.lower().startswith("pymodbus")))
elif query == "fingerprint":
    print(json.dumps(project, sort_keys=True))
PY
}

# The environment's stamp records what it was built from; a matching stamp means nothing to do.
install_key() {
    {
        echo "recipe=$INSTALL_RECIPE ha=$HA_VERSION phcc=$PHCC_VERSION python=$1"
        project_info fingerprint
    } | sha256sum | cut -d' ' -f1
}

environment_is_current() { # venv key
    [[ "${POWERBUS_REINSTALL:-0}" != 1 ]] &&
        [[ -x "$1/bin/python" ]] &&
        "$1/bin/python" -c "" 2>/dev/null &&
        [[ -f "$1/.powerbus-install-key" ]] &&
        [[ "$(cat "$1/.powerbus-install-key")" == "$2" ]]
}

new_venv_with_uv() { # venv base-python
    rm -rf "$1"
    "$2" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade pip uv
}

uv_install() { # venv uv-pip-install-arguments...
    local venv=$1
    shift
    "$venv/bin/uv" pip install --python "$venv/bin/python" --compile-bytecode "$@"
}

find_pyenv_root() {
    if command -v pyenv >/dev/null 2>&1; then
        pyenv root
    elif [[ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]]; then
        echo "${PYENV_ROOT:-$HOME/.pyenv}"
    else
        die "pyenv was not found (neither on PATH nor in ${PYENV_ROOT:-$HOME/.pyenv})." \
            "The Home Assistant tests need pyenv's Python $HA_PYTHON_VERSION:" \
            "install pyenv, then run 'pyenv install $HA_PYTHON_VERSION'."
    fi
}

find_engine_python() {
    local newest
    newest=$(printf '%s\n' "$PYENV_ROOT/versions/$ENGINE_PYTHON_SERIES".*/bin/"python$ENGINE_PYTHON_SERIES" |
        sort -V | tail -n 1)
    if [[ -x "$newest" ]]; then
        echo "$newest"
        return
    fi
    command -v "python$ENGINE_PYTHON_SERIES" ||
        die "No Python $ENGINE_PYTHON_SERIES found (pyenv versions or python$ENGINE_PYTHON_SERIES on PATH)."
}

# --- 1. Debian packages ----------------------------------------------------------------------
install_apt_packages() {
    step "Debian packages: ${APT_PACKAGES[*]}"
    if [[ "${POWERBUS_SKIP_APT:-0}" == 1 ]]; then
        echo "skipped (POWERBUS_SKIP_APT=1)"
        return
    fi
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]]; then
            missing+=("$package")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "all installed"
        return
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "Installing ${missing[*]} needs root (or sudo)."
        sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
    fi
    echo "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    # A policy-rc.d that says "no" keeps the package scripts from starting a mosquitto service
    # (the tests start their own broker on a free port); one already in place is left alone.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        added_policy=1
    fi
    local status=0
    "${sudo[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" </dev/null || status=$?
    if ((added_policy)); then
        "${sudo[@]}" rm -f "$policy"
    fi
    ((status == 0)) || die "apt-get could not install: ${missing[*]}"
}

# --- 2. Home Assistant environment -----------------------------------------------------------
build_ha_environment() {
    step "Home Assistant environment (.venvs/ha, Python $HA_PYTHON_VERSION, HA $HA_VERSION)"
    local base_python="$PYENV_ROOT/versions/$HA_PYTHON_VERSION/bin/python${HA_PYTHON_VERSION%.*}"
    [[ -x "$base_python" ]] ||
        die "pyenv has no Python $HA_PYTHON_VERSION ($base_python is missing): run 'pyenv install $HA_PYTHON_VERSION'."
    local key
    key=$(install_key "$HA_PYTHON_VERSION")
    if environment_is_current "$HA_VENV" "$key"; then
        echo "up to date"
    else
        local extras
        extras=$(project_info extras-except)
        new_venv_with_uv "$HA_VENV" "$base_python"
        uv_install "$HA_VENV" "homeassistant==$HA_VERSION"
        write_ha_constraints
        uv_install "$HA_VENV" -c "$HA_VENV/constraints.txt" \
            "pytest-homeassistant-custom-component==$PHCC_VERSION"
        uv_install "$HA_VENV" -c "$HA_VENV/constraints.txt" -e ".[$extras]"
        echo "$key" >"$HA_VENV/.powerbus-install-key"
    fi
    local homeassistant pymodbus pinned
    homeassistant=$(installed_version "$HA_VENV/bin/python" homeassistant)
    pymodbus=$(installed_version "$HA_VENV/bin/python" pymodbus)
    pinned=$(grep -i '^pymodbus==' "$HA_VENV/constraints.txt" | cut -d= -f3 || true)
    [[ -n "$pinned" ]] || die "found no pymodbus pin in Home Assistant $HA_VERSION's constraints"
    echo "homeassistant $homeassistant, pymodbus $pymodbus (Home Assistant's pin: $pinned)"
    [[ "$homeassistant" == "$HA_VERSION" ]] || die "homeassistant moved from $HA_VERSION to $homeassistant"
    [[ "$pymodbus" == "$pinned" ]] || die "pymodbus $pymodbus is installed, Home Assistant pins $pinned"
}

# HA's constraints file, plus the pymodbus pin of HA's own modbus integration: HA 2025.4 lists
# it only in that integration's manifest, and this environment must test against that version.
write_ha_constraints() {
    "$HA_VENV/bin/python" - "$HA_VENV/constraints.txt" <<'PY'
import json
import sys
from pathlib import Path

import homeassistant

package = Path(homeassistant.__file__).parent
lines = (package / "package_constraints.txt").read_text(encoding="utf-8").splitlines()
modbus = json.loads((package / "components/modbus/manifest.json").read_text(encoding="utf-8"))
if not any(line.lower().startswith("pymodbus") for line in lines):
    lines += [r for r in modbus["requirements"] if r.lower().startswith("pymodbus")]
Path(sys.argv[1]).write_text("\n".join(lines) + "\n", encoding="utf-8")
PY
}

# --- 3. Engine environment -------------------------------------------------------------------
build_engine_environment() {
    step "Engine environment (.venvs/engine, Python $ENGINE_PYTHON_SERIES, newest pymodbus)"
    local key
    key=$(install_key "$("$ENGINE_BASE_PYTHON" -c 'import sys; print(sys.version.split()[0])')")
    if environment_is_current "$ENGINE_VENV" "$key"; then
        echo "up to date"
    else
        local extras requirement
        extras=$(project_info extras-except ha)
        requirement=$(project_info pymodbus)
        new_venv_with_uv "$ENGINE_VENV" "$ENGINE_BASE_PYTHON"
        uv_install "$ENGINE_VENV" -e ".[$extras]"
        uv_install "$ENGINE_VENV" --upgrade-package pymodbus "$requirement"
        echo "$key" >"$ENGINE_VENV/.powerbus-install-key"
    fi
    local homeassistant
    homeassistant=$(installed_version "$ENGINE_VENV/bin/python" homeassistant)
    [[ -z "$homeassistant" ]] || die "homeassistant $homeassistant is installed in .venvs/engine; it must not be"
    echo "pymodbus $(installed_version "$ENGINE_VENV/bin/python" pymodbus)" \
        "(allowed: $(project_info pymodbus)), no homeassistant"
}

# --- 3b. Newest Home Assistant, in a Debian chroot -------------------------------------------
# Set once the chroot (then its environment) is ready; the versions are those installed there.
NEWEST_HA_READY=0
NEWEST_PYTHON_VERSION=
NEWEST_PYMODBUS_VERSION=

newest_ha_skipped() {
    if [[ "${POWERBUS_SKIP_HA_NEWEST:-0}" == 1 ]]; then
        echo "skipped (POWERBUS_SKIP_HA_NEWEST=1)"
        return 0
    fi
    return 1
}

ha_chroot() { # ha_chroot.sh arguments...
    bash "$HA_CHROOT_SCRIPT" "$@"
}

newest_ha_chroot_key() {
    {
        echo "recipe=$INSTALL_RECIPE suite=$NEWEST_HA_SUITE packages=${NEWEST_HA_CHROOT_PACKAGES[*]}"
        cat "$HA_CHROOT_SCRIPT"
    } | sha256sum | cut -d' ' -f1
}

newest_ha_install_key() { # chroot-key
    {
        echo "chroot=$1 ha=$NEWEST_HA_VERSION phcc=$NEWEST_PHCC_VERSION python=$NEWEST_HA_PYTHON"
        cat "$HA_CHROOT_VENV_SCRIPT"
        project_info fingerprint
    } | sha256sum | cut -d' ' -f1
}

stamp_matches() { # stamp-file key
    [[ "${POWERBUS_REINSTALL:-0}" != 1 ]] && [[ -f "$1" ]] && [[ "$(cat "$1")" == "$2" ]]
}

build_newest_ha_chroot() {
    step "Debian $NEWEST_HA_SUITE chroot for Home Assistant $NEWEST_HA_VERSION (.venvs/${NEWEST_HA_ROOT##*/})"
    newest_ha_skipped && return
    if ((EUID != 0)); then
        record_failure "Debian $NEWEST_HA_SUITE chroot (debootstrap, mount and chroot need root;\
 POWERBUS_SKIP_HA_NEWEST=1 skips the newest Home Assistant)"
        return
    fi
    local key stamp="$NEWEST_HA_ROOT/.powerbus-chroot-key"
    key=$(newest_ha_chroot_key)
    if stamp_matches "$stamp" "$key"; then
        echo "up to date"
    elif ha_chroot create "$NEWEST_HA_ROOT" "$NEWEST_HA_SUITE" "${NEWEST_HA_CHROOT_PACKAGES[@]}"; then
        echo "$key" >"$stamp"
    else
        record_failure "Debian $NEWEST_HA_SUITE chroot (debootstrap failed, see above)"
        return
    fi
    local described
    if ! described=$(ha_chroot run "$NEWEST_HA_ROOT" "$NEWEST_HA_PYTHON" - "$NEWEST_HA_MIN_PYTHON" <<'PY'
import subprocess
import sys

packages = subprocess.run(
    ["dpkg-query", "--show", "--showformat", "${Package} ${Version}, ", "libc6", "mosquitto", "socat"],
    capture_output=True, check=True, text=True,
).stdout
print(f"{sys.executable} {sys.version.split()[0]}, {packages.rstrip(', ')}")
minimum = tuple(int(part) for part in sys.argv[1].split("."))
sys.exit(0 if sys.version_info >= minimum else 3)
PY
    ); then
        record_failure "Debian $NEWEST_HA_SUITE chroot (${described:-no $NEWEST_HA_PYTHON inside};\
 Home Assistant $NEWEST_HA_VERSION needs Python $NEWEST_HA_MIN_PYTHON or newer)"
        return
    fi
    echo "$described"
    NEWEST_HA_READY=1
}

# Prints: python homeassistant phcc pymodbus modbus-connection, as installed in the chroot's venv.
newest_ha_versions() {
    ha_chroot run "$NEWEST_HA_ROOT" "$NEWEST_HA_VENV/bin/python" - 2>/dev/null <<'PY'
import sys
from importlib import metadata

names = ("homeassistant", "pytest-homeassistant-custom-component", "pymodbus", "modbus-connection")
print(sys.version.split()[0], *(metadata.version(name) for name in names))
PY
}

build_newest_ha_environment() {
    step "Home Assistant $NEWEST_HA_VERSION environment ($NEWEST_HA_VENV in the $NEWEST_HA_SUITE chroot)"
    newest_ha_skipped && return
    if ((!NEWEST_HA_READY)); then
        echo "skipped: the chroot is not ready"
        return
    fi
    NEWEST_HA_READY=0
    local key stamp="$NEWEST_HA_ROOT$NEWEST_HA_VENV/.powerbus-install-key" versions=()
    key=$(newest_ha_install_key "$(cat "$NEWEST_HA_ROOT/.powerbus-chroot-key")")
    if stamp_matches "$stamp" "$key" && read -r -a versions <<<"$(newest_ha_versions)" &&
        ((${#versions[@]} == 5)); then
        echo "up to date"
    else
        if ! ha_chroot run "$NEWEST_HA_ROOT" bash "/src/$HA_CHROOT_VENV_SCRIPT" "$NEWEST_HA_VENV" \
            "$NEWEST_HA_PYTHON" "$NEWEST_HA_VERSION" "$NEWEST_PHCC_VERSION"; then
            record_failure "Home Assistant $NEWEST_HA_VERSION environment (install failed, see above)"
            return
        fi
        echo "$key" >"$stamp"
        read -r -a versions <<<"$(newest_ha_versions)" || true
        if ((${#versions[@]} != 5)); then
            record_failure "Home Assistant $NEWEST_HA_VERSION environment (installed, but its Python\
 cannot report the installed versions)"
            return
        fi
    fi
    local pinned
    pinned=$(grep -i '^pymodbus==' "$NEWEST_HA_ROOT$NEWEST_HA_VENV/constraints.txt" | cut -d= -f3 || true)
    [[ -n "$pinned" ]] || die "found no pymodbus pin in Home Assistant $NEWEST_HA_VERSION's constraints"
    echo "python ${versions[0]}, homeassistant ${versions[1]}," \
        "pytest-homeassistant-custom-component ${versions[2]}, pymodbus ${versions[3]}" \
        "(Home Assistant's pin: $pinned), modbus-connection ${versions[4]}"
    [[ "${versions[1]}" == "$NEWEST_HA_VERSION" ]] ||
        die "homeassistant ${versions[1]} is installed in the chroot, not $NEWEST_HA_VERSION"
    [[ "${versions[3]}" == "$pinned" ]] ||
        die "pymodbus ${versions[3]} is installed in the chroot, Home Assistant pins $pinned"
    NEWEST_PYTHON_VERSION=${versions[0]}
    NEWEST_PYMODBUS_VERSION=${versions[3]}
    NEWEST_HA_READY=1
}

# --- 4. Lint ---------------------------------------------------------------------------------
# Prints the given paths that hold Python files (a folder may exist before its first module).
python_paths() {
    local path
    for path in "$@"; do
        if [[ -n "$(find "$path" -name '*.py' -print -quit 2>/dev/null)" ]]; then
            echo "$path"
        fi
    done
}

run_lint() {
    local lint_paths ha_typed_paths package
    mapfile -t lint_paths < <(python_paths "${LINT_PATHS[@]}")
    mapfile -t ha_typed_paths < <(python_paths "${HA_TYPED_PATHS[@]}")

    step "ruff check (${lint_paths[*]})"
    "$ENGINE_VENV/bin/ruff" --version
    "$ENGINE_VENV/bin/ruff" check "${lint_paths[@]}" || record_failure "ruff check"

    step "ruff format --check"
    "$ENGINE_VENV/bin/ruff" format --check "${lint_paths[@]}" || record_failure "ruff format --check"

    # mypy cannot follow setuptools' editable-install finder, so it reads the engine through a
    # folder named like the package.
    local package_root="$VENV_ROOT/typecheck"
    mkdir -p "$package_root"
    ln -sfn "$REPO_ROOT/$ENGINE_DIR" "$package_root/powerbus"
    local packages=()
    for package in "${ENGINE_TYPED_PACKAGES[@]}"; do
        packages+=(-p "$package")
    done
    step "mypy --strict, engine environment (${ENGINE_TYPED_PACKAGES[*]})"
    "$ENGINE_VENV/bin/mypy" --version
    MYPYPATH="$package_root" "$ENGINE_VENV/bin/mypy" "${packages[@]}" ||
        record_failure "mypy (engine environment)"

    step "mypy --strict, Home Assistant environment (${ha_typed_paths[*]})"
    "$HA_VENV/bin/mypy" --python-version "${HA_PYTHON_VERSION%.*}" "${ha_typed_paths[@]}" ||
        record_failure "mypy (Home Assistant environment)"
}

# --- 5. Tests --------------------------------------------------------------------------------
# Runs pytest and counts its results.
run_pytest() { # label venv pytest-arguments...
    local label=$1 venv=$2
    shift 2
    step "pytest: $label"
    echo "python $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')," \
        "pymodbus $(installed_version "$venv/bin/python" pymodbus)"
    local junit="$REPORT_DIR/${#STEP_NAMES[@]}.xml" status=0
    "$venv/bin/python" -m pytest --junitxml="$junit" "$@" "${EXTRA_PYTEST_ARGS[@]}" || status=$?
    count_pytest_results "$label" "$junit" "$status"
}

# Adds a pytest run's junit counts to the totals and records a failure. Exit code 5 (nothing
# collected) only fails the whole run if no pytest run executed any test at all.
count_pytest_results() { # label junit-file exit-status
    local label=$1 junit=$2 status=$3
    if [[ -f "$junit" ]]; then
        local counts=()
        read -r -a counts < <("$ENGINE_BASE_PYTHON" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
total = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
failed = total["failures"] + total["errors"]
print(total["tests"] - failed - total["skipped"], failed, total["skipped"])
PY
        )
        TESTS_PASSED=$((TESTS_PASSED + ${counts[0]:-0}))
        TESTS_FAILED=$((TESTS_FAILED + ${counts[1]:-0}))
        TESTS_SKIPPED=$((TESTS_SKIPPED + ${counts[2]:-0}))
        TESTS_RUN=$((TESTS_RUN + ${counts[0]:-0} + ${counts[1]:-0}))
    fi
    case $status in
        0) ;;
        5) echo "(no tests collected here)" ;;
        *) record_failure "pytest: $label (exit code $status)" ;;
    esac
}

run_tests() {
    local ignore_ha_only=() path
    for path in "${HA_ONLY_TEST_PATHS[@]}"; do
        ignore_ha_only+=("--ignore=$path")
    done
    POWERBUS_EXPECT_NO_HOMEASSISTANT=1 \
        run_pytest "engine environment, newest pymodbus" "$ENGINE_VENV" tests "${ignore_ha_only[@]}"
    run_pytest "Home Assistant environment, Home Assistant's pymodbus" "$HA_VENV" \
        -p "no:$PHCC_PLUGIN" tests "${ignore_ha_only[@]}"
    rm -rf "$COVERAGE_DIR"
    mkdir -p "$COVERAGE_DIR"
    COVERAGE_FILE="$COVERAGE_DIR/ha-oldest" run_pytest "Home Assistant integration tests" "$HA_VENV" \
        "${COVERAGE_ARGS[@]}" "${HA_ONLY_TEST_PATHS[@]}"
    run_newest_ha_tests
    check_coverage
}

# The integration's coverage over both releases: each covers what only it runs (core's shared
# Modbus connection exists from 2026.10 on). Only a full run is held to the minimum.
check_coverage() {
    step "coverage of the integration (both Home Assistant releases)"
    local data=() file
    for file in "$COVERAGE_DIR/ha-oldest" "$COVERAGE_DIR/ha-newest"; do
        [[ -f "$file" ]] && data+=("$file")
    done
    if ((${#data[@]} == 0)); then
        echo "skipped: no coverage was recorded"
        return
    fi
    local combined="$COVERAGE_DIR/combined" coverage=("$HA_VENV/bin/python" -m coverage)
    "${coverage[@]}" combine --keep --quiet --data-file="$combined" "${data[@]}"
    if ((${#EXTRA_PYTEST_ARGS[@]} > 0)); then
        "${coverage[@]}" report --data-file="$combined" || true
        echo "(POWERBUS_TEST_ARGS is set: coverage is reported, not checked)"
        return
    fi
    "${coverage[@]}" report --data-file="$combined" --fail-under="$COVERAGE_MINIMUM" ||
        record_failure "coverage of the integration below $COVERAGE_MINIMUM %"
    local fully
    fully=$(IFS=,; echo "${FULLY_COVERED[*]}")
    "${coverage[@]}" report --data-file="$combined" --include="$fully" --fail-under=100 ||
        record_failure "coverage below 100 % in ${FULLY_COVERED[*]}"
}

# The Home Assistant tests again, on the newest Home Assistant, inside the chroot.
run_newest_ha_tests() {
    local label="Home Assistant $NEWEST_HA_VERSION integration tests ($NEWEST_HA_SUITE chroot)"
    step "pytest: $label"
    newest_ha_skipped && return
    if ((!NEWEST_HA_READY)); then
        echo "skipped: the Home Assistant $NEWEST_HA_VERSION environment is not ready (see above)"
        return
    fi
    echo "python $NEWEST_PYTHON_VERSION, pymodbus $NEWEST_PYMODBUS_VERSION"
    local junit="$REPORT_DIR/${#STEP_NAMES[@]}.xml" status=0
    rm -f "$NEWEST_HA_ROOT$NEWEST_HA_JUNIT"
    ha_chroot run "$NEWEST_HA_ROOT" /usr/bin/env COVERAGE_FILE="$NEWEST_HA_COVERAGE_DIR/ha-newest" \
        "$NEWEST_HA_VENV/bin/python" -c "$IMPORT_HA_THEN_RUN_PYTEST" --junitxml="$NEWEST_HA_JUNIT" \
        "${COVERAGE_ARGS[@]}" "${HA_ONLY_TEST_PATHS[@]}" "${EXTRA_PYTEST_ARGS[@]}" || status=$?
    if [[ -f "$NEWEST_HA_ROOT$NEWEST_HA_JUNIT" ]]; then
        mv "$NEWEST_HA_ROOT$NEWEST_HA_JUNIT" "$junit"
    fi
    count_pytest_results "$label" "$junit" "$status"
}

# --- Summary ---------------------------------------------------------------------------------
print_summary() {
    finish_step
    printf '\n==> Timings\n'
    local index
    for index in "${!STEP_NAMES[@]}"; do
        printf '  %5ss  %s\n' "${STEP_SECONDS[$index]}" "${STEP_NAMES[$index]}"
    done
    printf '  %5ss  total\n' "$((SECONDS - RUN_STARTED))"
    if ((TESTS_RUN == 0)); then
        FAILED_CHECKS+=("no test ran at all")
    fi
    echo
    if ((${#FAILED_CHECKS[@]} == 0)); then
        echo "Result: all checks passed"
    else
        echo "Result: FAILED: $(IFS=';'; echo "${FAILED_CHECKS[*]}")"
    fi
    echo "Summary: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
}

main() {
    mkdir -p "$VENV_ROOT"
    exec 9>"$VENV_ROOT/.lock"
    if ! flock --nonblock 9; then
        echo "Another run of scripts/test.sh is using .venvs; waiting for it to finish..."
        flock 9
    fi

    PYENV_ROOT=$(find_pyenv_root)
    # The engine environment's base interpreter; it also reads pyproject.toml (tomllib) here.
    ENGINE_BASE_PYTHON=$(find_engine_python)

    install_apt_packages
    build_ha_environment
    build_engine_environment
    build_newest_ha_chroot
    build_newest_ha_environment
    run_lint
    run_tests
    print_summary
    ((${#FAILED_CHECKS[@]} == 0))
}

main "$@"
