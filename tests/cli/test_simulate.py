"""``powerbus simulate`` as a user runs it: its banner, a UPS whose mains can be cut, a gateway's reboot.

Each test starts the tool as a separate process and reads the simulated device with ``main``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from powerbus.cli import EXIT_FAILURE, EXIT_OK, main
from powerbus.profile import get_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 15.0
LISTENING = re.compile(r"on (tcp://127\.0\.0\.1:\d+)$")
READY = "Ctrl-C to stop."


@dataclass
class Running:
    """A simulator process and the lines it has printed so far, read by a thread of their own."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str]

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def lines_until(self, last: str) -> list[str]:
        """Return the next lines up to and including the first that starts with ``last``."""
        seen: list[str] = []
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if line.startswith(last):
                return seen
        pytest.fail(f"no line starting {last!r} in {seen!r}")


@pytest.fixture
def simulate() -> Iterator[Callable[..., Running]]:
    """Start `powerbus simulate ARGV` on a free port; stop it at the end if it still runs."""
    started: list[subprocess.Popen[str]] = []

    def start(*argv: str) -> Running:
        process = subprocess.Popen(
            [sys.executable, "-m", "powerbus", "simulate", *argv, "--tcp", "127.0.0.1:0"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_forward, args=(process, lines), daemon=True).start()
        return Running(process=process, lines=lines)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(PROCESS_TIMEOUT)


def _forward(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    """Put each line the process prints into ``lines``."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))


def link_of(banner: list[str]) -> str:
    """Return the TCP link the banner names."""
    return next(match.group(1) for line in banner if (match := LISTENING.search(line)))


def test_the_banner_names_the_faults_in_force(simulate: Callable[..., Running]) -> None:
    """Every --fault is listed, in words, before the simulator waits for requests."""
    banner = simulate("pro380", "--fault", "exception=4", "--fault", "delay=0.25").lines_until(
        READY
    )
    assert [line for line in banner if line.startswith("fault in force")] == [
        "fault in force: answer with device exception 0x04 (server device failure), every request",
        "fault in force: answer 0.25 s late, every request",
    ]


def test_a_simulator_without_faults_lists_none(simulate: Callable[..., Running]) -> None:
    """No fault, no fault line; a meter has no mains to cut."""
    banner = simulate("pro380").lines_until(READY)
    assert not [line for line in banner if "fault" in line or "mains" in line]


def _on_battery(link: str, capsys: pytest.CaptureFixture[str]) -> bool:
    """Read the UPS's on-battery flag through the tool."""
    argv = ["read", link, "--unit", "1", "--profile", "liebert_gxt2", "--point", "on_battery"]
    assert main([*argv, "--json"]) == EXIT_OK
    value = json.loads(capsys.readouterr().out)["readings"]["on_battery"]["value"]
    assert isinstance(value, bool)
    return value


def test_sigusr1_cuts_a_simulated_ups_s_mains_and_sigusr2_brings_them_back(
    simulate: Callable[..., Running], capsys: pytest.CaptureFixture[str]
) -> None:
    """The banner says how; the UPS goes on battery at SIGUSR1 and back on line at SIGUSR2."""
    ups = simulate("liebert_gxt2")
    banner = ups.lines_until(READY)
    pid = ups.pid
    assert f"cut the UPS's mains: kill -USR1 {pid}; bring them back: kill -USR2 {pid}" in banner
    link = link_of(banner)
    assert _on_battery(link, capsys) is False

    ups.process.send_signal(signal.SIGUSR1)
    assert ups.lines_until("mains")[-1] == "mains cut: the UPS runs on its battery"
    assert _on_battery(link, capsys) is True

    ups.process.send_signal(signal.SIGUSR2)
    assert ups.lines_until("mains")[-1] == "mains back"
    assert _on_battery(link, capsys) is False

    ups.process.send_signal(signal.SIGTERM)
    assert ups.process.wait(PROCESS_TIMEOUT) == 0


def test_a_simulated_gateway_is_silent_while_it_reboots(
    simulate: Callable[..., Running], capsys: pytest.CaptureFixture[str]
) -> None:
    """After its soft reboot an EGX400 answers nothing for its restart time, then again."""
    gateway = simulate("egx400")  # its restart takes 2 s
    link = link_of(gateway.lines_until(READY))
    profile = get_profile("egx400")
    device = ["--unit", str(profile.transport.unit_id), "--profile", "egx400"]
    read = ["read", link, *device, "--point", profile.points[0].key, "--timeout", "0.2"]
    assert main(read) == EXIT_OK
    assert main(["write", link, *device, "--command", "soft_reboot", "--confirm"]) == EXIT_OK
    assert main(read) == EXIT_FAILURE
    assert "does not answer" in capsys.readouterr().err
    time.sleep(2.0)
    assert main(read) == EXIT_OK
