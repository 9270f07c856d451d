"""Describe a benchmark run, so that a recorded figure says where, when and how it was measured.

A benchmark prints :func:`run_header` before its figures and :func:`load_footer`
after them: the command, the time (UTC), the machine (CPUs, CPU model, kernel),
the load average before and after, the Python and pymodbus versions, and the
source measured (the git commit, and whether the tree held changes on top of it).
"""

from __future__ import annotations

from datetime import UTC, datetime
import os
from pathlib import Path
import platform
import shlex
import subprocess
import sys

import pymodbus

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_header(runs: str) -> str:
    """Describe the run that is starting; ``runs`` says how many measurements make each figure."""
    command = shlex.join([_relative(sys.executable), _relative(sys.argv[0]), *sys.argv[1:]])
    return "\n".join(
        [
            f"command: {command}",
            f"started: {_now()}",
            f"machine: {_machine()}",
            f"load average: {_load()} (1, 5, 15 min) at the start",
            f"software: Python {platform.python_version()}, pymodbus {pymodbus.__version__}",
            f"source: {_source()}",
            f"runs: {runs}",
        ]
    )


def load_footer() -> str:
    """Describe the end of the run: time and load average."""
    return f"finished: {_now()}; load average {_load()} (1, 5, 15 min) at the end"


def _relative(path: str) -> str:
    """Return a path below the repository relative to it, any other path as it is."""
    resolved = Path(path).absolute()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else path


def _now() -> str:
    """Return the time now, UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _machine() -> str:
    """Describe the machine: CPUs, CPU model and kernel."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}"


def _load() -> str:
    """Return the load averages of the last 1, 5 and 15 minutes."""
    try:
        return ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "unknown"


def _source() -> str:
    """Name the git commit measured, and say whether the working tree differed from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}" + (" with uncommitted changes" if changed else "")


def _git(*args: str) -> str:
    """Run a read-only git command in the repository and return its output."""
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
