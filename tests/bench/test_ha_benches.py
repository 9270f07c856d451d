"""The Home Assistant benchmarks run (in their short mode) and print figures that make sense.

They need Home Assistant and pytest-homeassistant-custom-component; elsewhere these tests
are skipped. Each benchmark runs as the program a user starts, in a process of its own;
nothing here times anything.
"""

from __future__ import annotations

from pathlib import Path
import re
import subprocess
import sys

import pytest

pytest.importorskip(
    "pytest_homeassistant_custom_component",
    reason="the Home Assistant benchmarks need Home Assistant and its test harness",
)

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600
# A row of the side-by-side table: label, entities, requests, TCP bytes out/in.
COMPARISON_ROW = re.compile(
    r"^  (core, [^0-9]+?|Powerbus)\s+(\d+)\s+(\d+)\s+(\d+)/(\d+)\s", re.MULTILINE
)
# A row of the coordinator table: label, polls, requests per poll.
POLL_ROW = re.compile(r"^  (full poll, [a-zA-Z ]+?)\s+(\d+)\s+(\d+)\s", re.MULTILINE)


def run_short(program: str) -> str:
    """Run a benchmark in its short mode; return what it printed."""
    finished = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / program), "--short"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def test_side_by_side_counts_one_request_per_core_entity_and_fewer_for_powerbus() -> None:
    """Core's per-value sensors cost a request each; Powerbus reads the same values in fewer."""
    output = run_short("ha_core_modbus.py")
    rows = COMPARISON_ROW.findall(output)
    labels = [row[0].strip() for row in rows]

    assert labels.count("Powerbus") == 2, output
    for start in (0, 4):
        per_value, by_units, by_type, powerbus = rows[start : start + 4]
        assert int(per_value[2]) == int(per_value[1])  # one request per entity
        assert int(by_type[2]) <= int(by_units[2]) < int(per_value[2])
        assert int(powerbus[1]) == int(per_value[1])  # the same values on both sides
        assert int(powerbus[2]) < int(by_type[2])
        assert int(powerbus[3]) + int(powerbus[4]) < int(by_type[3]) + int(by_type[4])
    assert "refused requests" not in output


def test_coordinator_bench_polls_every_device_through_home_assistant_and_alone() -> None:
    """Both full-poll rows send the same requests: the engine alone polls what the coordinator does."""
    output = run_short("ha_coordinator_cpu.py")
    rows = {
        label: (int(polls), int(requests)) for label, polls, requests in POLL_ROW.findall(output)
    }

    assert rows["full poll, Home Assistant"][1] > 0, output
    assert rows["full poll, Home Assistant"] == rows["full poll, engine only"]
    assert "10 devices on one Modbus TCP endpoint" in output


def test_the_ups_latency_bench_sees_the_on_battery_state_arrive() -> None:
    """One mains cut reaches Home Assistant's binary sensor (nothing here judges how fast)."""
    finished = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "ha_ups_latency.py"), "--runs", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert re.search(r"cut to on-battery state, 1 runs?: min \d+ ms", finished.stdout), (
        finished.stdout
    )
