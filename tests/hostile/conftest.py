"""A small device profile, the values a healthy device reports, and resource counts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from powerbus.bus import RetryPolicy
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Profile
from powerbus.poller import PollResult
from powerbus.profile import parse_profile_text

from .server import HostileServer, RegisterImage

# Two holding-register blocks and one input-register block, all of the same size, so that
# an answer meant for one of them has exactly the shape of an answer to another.
PROFILE = """
family: hostile
manufacturer: Test
limits: {timeout: 0.2, max_gap: 2}
defaults: {table: holding_register, data_type: u16}
point_sets:
  all:
    - {key: a0, name: A0, address: 0}
    - {key: a1, name: A1, address: 1}
    - {key: b0, name: B0, address: 40}
    - {key: b1, name: B1, address: 41}
    - {key: i0, name: I0, table: input_register, address: 0}
    - {key: i1, name: I1, table: input_register, address: 1}
variants:
  - {key: hostile, name: Hostile, point_sets: [all]}
"""
EXPECTED = {"a0": 0x1000, "a1": 0x1001, "b0": 0x1028, "b1": 0x1029, "i0": 0x2000, "i1": 0x2001}
"""What the healthy device reports for every point."""
POLICY = RetryPolicy(retries=1, backoff=0.0, reconnect_backoff=0.0)
"""One retry, and no pause before a retry or a reopen: a bad mode costs little time."""


def image() -> RegisterImage:
    """Return the healthy device's registers (address 0..63 of each table)."""
    return RegisterImage(
        holding={a: 0x1000 + a for a in range(64)}, input={a: 0x2000 + a for a in range(64)}
    )


@pytest.fixture
def profile() -> Profile:
    """Return the hostile test device."""
    return parse_profile_text(PROFILE, "hostile.yaml")["hostile"]


def link_to(server: HostileServer, port: int) -> LinkSettings:
    """Return the link settings that reach ``server`` on ``port``."""
    return LinkSettings(kind=LinkKind(server.framing.value), host="127.0.0.1", port=port)


def wrong_values(result: PollResult) -> dict[str, object]:
    """Return the points reported VALID with a value other than the device's."""
    return {
        key: reading.value
        for key, reading in result.readings.items()
        if reading.state is PointState.VALID and reading.value != EXPECTED[key]
    }


def all_correct(result: PollResult) -> bool:
    """Tell whether every point is VALID with the device's value."""
    return {key: result.value(key) for key in EXPECTED} == EXPECTED


def open_fds() -> int:
    """Count the file descriptors this process holds open now."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def other_tasks() -> set[asyncio.Task[object]]:
    """Return the tasks other than the running test's."""
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Return the log lines that carry a traceback, or asyncio's report of a failed callback."""
    return [
        record.getMessage()
        for record in records
        if record.exc_info is not None
        or "Traceback" in record.getMessage()
        or (record.name == "asyncio" and record.levelno >= logging.ERROR)
    ]
