"""``powerbus demo``: one 80x24 screen, the meter's identity on top, redrawn in place on a terminal.

The demo runs as a separate process, the way a user starts it: once writing to a pipe (one
screen after another), once to a pseudo-terminal of 80x24, whose output is played on a small
terminal model to see what the user's screen shows at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
import fcntl
import io
import os
from pathlib import Path
import pty
import re
import selectors
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest
from rich.console import Console

from powerbus.cli.demo_view import HEIGHT, WIDTH, DemoScreen, demo_layout, render_demo
from powerbus.profile import builtin_profiles, get_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "powerbus", "demo"]
PROCESS_TIMEOUT = 15.0
SERIAL_NUMBER = "22091039"  # the simulated PRO380's
CONTROL = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Collect the processes a test starts; stop any still running at the end."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(PROCESS_TIMEOUT)


def _screens(text: str) -> list[list[str]]:
    """Split the demo's output to a pipe into its screens (a blank line ends each)."""
    screens: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("inepro Metering") and current:
            screens.append(current[:-1] if current[-1] == "" else current)
            current = []
        current.append(line)
    screens.append(current)
    return screens


def _voltages(screen: list[str]) -> list[float]:
    """Return the three phase voltages a screen shows."""
    row = next(line for line in screen if line.startswith("Voltage (V)"))
    return [float(cell) for cell in row.removeprefix("Voltage (V)").split()]


def test_demo_to_a_pipe_prints_screens_that_fit_80x24() -> None:
    """Each refresh is one screen of at most 24 lines of 80 columns, identity first."""
    result = subprocess.run(
        [*DEMO, "--count", "2", "--watch", "0.3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout
    screens = _screens(result.stdout)
    assert len(screens) == 2
    for screen in screens:
        assert len(screen) <= HEIGHT
        assert max(len(line) for line in screen) <= WIDTH
        assert screen[0].startswith("inepro Metering PRO380-Mod")
        assert screen[1].startswith(f"serial {SERIAL_NUMBER} · firmware 2.18 · unit 1 on tcp://")
        assert all(220 < voltage < 240 for voltage in _voltages(screen))
        assert re.search(r"powerbus read tcp://127\.0\.0\.1:\d+ --unit 1$", screen[-1])


class Terminal:
    """Just enough of a terminal to replay what the demo writes: text, CR, LF, cursor up, erase line."""

    def __init__(self, rows: int, columns: int) -> None:
        """Start with an empty screen, the cursor top left."""
        self.lines = [""] * rows
        self.columns = columns
        self.row = 0
        self.column = 0
        self.cleared = 0
        self.highest_row = 0

    def play(self, output: str) -> None:
        """Apply everything written to the terminal."""
        position = 0
        for match in CONTROL.finditer(output):
            self._text(output[position : match.start()])
            self._control(*match.groups())
            position = match.end()
        self._text(output[position:])

    def _control(self, private: str, number: str, command: str) -> None:
        """Move the cursor or erase, as a VT100 does; colours and cursor visibility change nothing."""
        if private or command == "m":
            return
        if command == "A":
            self.row = max(0, self.row - int(number or 1))
        elif command == "K":
            self.lines[self.row] = ""
        elif command == "J":
            self.cleared += 1
            self.lines = [""] * len(self.lines)

    def _text(self, text: str) -> None:
        """Write text at the cursor; CR returns to the line's start, LF goes down a line."""
        for character in text:
            if character == "\r":
                self.column = 0
            elif character == "\n":
                self.row += 1
                if self.row == len(self.lines):
                    self.lines = [*self.lines[1:], ""]
                    self.row -= 1
            else:
                line = self.lines[self.row].ljust(self.column)
                self.lines[self.row] = line[: self.column] + character + line[self.column + 1 :]
                self.column += 1
            self.highest_row = max(self.highest_row, self.row)


def _run_on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run the demo on an 80x24 pseudo-terminal; return its exit code and everything it wrote."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    try:
        demo = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.PIPE,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "", "LINES": ""},
        )
        os.close(terminal)
        chunks = []
        deadline = time.monotonic() + PROCESS_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(controller, selectors.EVENT_READ)
            while selector.select(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # Linux reports a terminal without writers as EIO
                    break
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(controller)
    return demo.wait(PROCESS_TIMEOUT), b"".join(chunks).decode()


def test_demo_on_a_terminal_redraws_one_screen_in_place() -> None:
    """Three refreshes leave one screen: the last, identity on top, never scrolled or cleared."""
    code, output = _run_on_a_terminal([*DEMO, "--count", "3", "--watch", "0.2"])
    assert code == 0
    terminal = Terminal(HEIGHT, WIDTH)
    terminal.play(output)
    screen = [line.rstrip() for line in terminal.lines]
    assert terminal.cleared == 0
    assert output.count("Voltage (V)") >= 3
    assert sum(line.startswith("Voltage (V)") for line in screen) == 1
    assert screen[0].startswith("inepro Metering PRO380-Mod")
    assert screen[1].startswith(f"serial {SERIAL_NUMBER} · firmware 2.18")
    assert terminal.highest_row < HEIGHT - 1  # the screen fits without scrolling
    assert max(len(line) for line in screen) <= WIDTH


def test_demo_stops_cleanly_on_ctrl_c(processes: list[subprocess.Popen[str]]) -> None:
    """Ctrl-C (SIGINT) during the demo ends it with exit code 0 and no traceback."""
    demo = subprocess.Popen(
        [*DEMO, "--watch", "0.2"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(demo)
    assert demo.stdout is not None
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not demo.stdout.readline().startswith("Voltage (V)"):
        assert time.monotonic() < deadline
    demo.send_signal(signal.SIGINT)
    _, err = demo.communicate(timeout=PROCESS_TIMEOUT)
    assert demo.returncode == 0
    assert "Traceback" not in err


@pytest.mark.parametrize("key", sorted(builtin_profiles()))
def test_every_profile_s_screen_fits_80x24(key: str) -> None:
    """Whatever a profile holds, its demo screen keeps to 24 lines of 80 columns."""
    profile = get_profile(key)
    screen = DemoScreen(
        profile=profile,
        layout=demo_layout(profile),
        identity=None,
        readings={},
        where="unit 1 on tcp://127.0.0.1:65535",
        speed=60,
        status="12345 requests, 0 retries, mean latency 12.3 ms; read at 12:34:56",
        hint="Ctrl-C stops. Try it yourself: powerbus read tcp://127.0.0.1:65535 --unit 1",
    )
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    with console.capture() as capture:
        console.print(render_demo(screen))
    lines = capture.get().splitlines()
    assert len(lines) <= HEIGHT
    assert max(len(line.rstrip()) for line in lines) <= WIDTH
    assert lines[0].startswith(f"{profile.manufacturer} {profile.name}"[: WIDTH - 1])
