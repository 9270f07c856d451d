"""Every way the hostile server answers wrongly, polled through the real bus and poller.

For each mode: no point is ever VALID with a value the device did not report, no
exception leaves a poll, no traceback is logged, no socket, file descriptor or task
is left behind, and the first poll after the device is healthy again reads every
point correctly.
"""

from __future__ import annotations

import logging

import pytest

from powerbus.bus import Bus
from powerbus.models import Profile
from powerbus.poller import Poller

from .conftest import (
    POLICY,
    all_correct,
    image,
    link_to,
    open_fds,
    other_tasks,
    tracebacks,
    wrong_values,
)
from .server import UNIT, Framing, HostileServer, Mode, modes_for

HOSTILE_POLLS = 3
CASES = [(framing, mode) for framing in Framing for mode in modes_for(framing)]


@pytest.mark.parametrize(("framing", "mode"), CASES, ids=[f"{f.value}-{m.value}" for f, m in CASES])
async def test_hostile_answers_never_become_values(
    framing: Framing, mode: Mode, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong answers make points unavailable or errors, never wrong values; healthy again recovers."""
    caplog.set_level(logging.DEBUG)
    fds, tasks = open_fds(), other_tasks()
    server = HostileServer(framing, image())
    port = await server.start()
    bus = Bus(link_to(server, port), policy=POLICY)
    poller = Poller(bus, profile, UNIT)
    try:
        healthy = await poller.poll()
        server.set_mode(mode)
        hostile = [await poller.poll() for _ in range(HOSTILE_POLLS)]
        server.set_mode(Mode.HEALTHY)
        recovered = await poller.poll()
    finally:
        bus.close()
        await server.wait_until_closed()
        left_open = server.open_connections
        await server.stop()

    assert all_correct(healthy)
    assert [wrong_values(result) for result in hostile] == [{}] * HOSTILE_POLLS
    assert all_correct(recovered), recovered.readings
    assert tracebacks(caplog.records) == []
    assert left_open == 0
    assert open_fds() == fds
    assert other_tasks() == tasks


@pytest.mark.parametrize("framing", list(Framing))
async def test_no_exception_code_becomes_a_value(
    framing: Framing, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of the 256 exception codes makes the points errors or unavailable, never values."""
    server = HostileServer(framing, image())
    port = await server.start()
    bus = Bus(link_to(server, port), policy=POLICY)
    poller = Poller(bus, profile, UNIT)
    wrong: dict[int, dict[str, object]] = {}
    try:
        for code in range(256):
            server.set_mode(Mode.EXCEPTION, exception_code=code)
            result = await poller.poll()
            if wrong_values(result) or any(
                result.value(key) is not None for key in result.readings
            ):
                wrong[code] = wrong_values(result)
        server.set_mode(Mode.HEALTHY)
        recovered = await poller.poll()
    finally:
        bus.close()
        await server.stop()

    assert wrong == {}
    assert all_correct(recovered)
    assert tracebacks(caplog.records) == []
