"""Device trouble on a real Modbus link: the poll loop survives and never reports stale values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
import time

import pytest

from powerbus.bus import Bus, RetryPolicy
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Profile, Table
from powerbus.poller import Poller
from powerbus.profile import parse_profile_text
from powerbus.session import DeviceSession
from powerbus.simulator.device import RegisterImage
from powerbus.simulator.faults import (
    CorruptFrame,
    Delay,
    DropConnection,
    ExceptionAnswer,
    FaultPlan,
    NoAnswer,
)
from powerbus.simulator.server import Simulator

HR = Table.HOLDING_REGISTER

# Six one-register points; the device below has no register at address 3.
PROFILE = """
family: gappy
manufacturer: Test
limits: {timeout: 0.3, max_gap: 4}
defaults: {table: holding_register, data_type: u16}
point_sets:
  all:
    - {key: p0, name: P0, address: 0}
    - {key: p1, name: P1, address: 1}
    - {key: p2, name: P2, address: 2}
    - {key: p3, name: P3, address: 3}
    - {key: p4, name: P4, address: 4}
    - {key: p5, name: P5, address: 5}
variants:
  - {key: gappy, name: Gappy, point_sets: [all]}
"""


@pytest.fixture
def profile() -> Profile:
    """Six adjacent points that the planner reads in one block."""
    return parse_profile_text(PROFILE, "gappy.yaml")["gappy"]


@pytest.fixture
def faults() -> FaultPlan:
    """Faults the test injects while the simulator runs."""
    return FaultPlan()


@pytest.fixture
async def link(faults: FaultPlan) -> AsyncIterator[tuple[LinkSettings, dict[int, RegisterImage]]]:
    """Serve unit 1 (address 3 missing) and unit 2 (complete) over TCP."""
    devices = {
        1: RegisterImage({HR: {0: 10, 1: 11, 2: 12, 4: 14, 5: 15}}),
        2: RegisterImage({HR: {a: 20 + a for a in range(6)}}),
    }
    simulator = Simulator(devices, faults)
    port = await simulator.start_tcp("127.0.0.1", 0)
    yield LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port), devices
    await simulator.stop()


def _states(result_readings: object, keys: list[str]) -> list[PointState]:
    return [result_readings[k].state for k in keys]  # type: ignore[index]


async def test_refused_address_is_split_off_and_remembered(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile
) -> None:
    """Only the point the device refuses is unavailable, and later polls skip it at once."""
    settings, _ = link
    async with Bus(settings) as bus:
        poller = Poller(bus, profile, 1)
        first = await poller.poll()
        requests_first = bus.stats(1).requests
        second = await poller.poll()
        requests_second = bus.stats(1).requests - requests_first

    for result in (first, second):
        assert result.readings["p3"].state is PointState.UNAVAILABLE
        assert [result.value(k) for k in ("p0", "p1", "p2", "p4", "p5")] == [10, 11, 12, 14, 15]
    assert requests_second == 2
    assert requests_first > requests_second


async def test_timeout_makes_everything_unavailable_and_the_loop_goes_on(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """A silent device gives unavailable readings, no exception, and fresh values once it answers."""
    settings, devices = link
    silence = NoAnswer(times=None, unit_id=2)
    async with Bus(settings, policy=RetryPolicy(retries=1, backoff=0.01)) as bus:
        poller = Poller(bus, profile, 2)
        good = await poller.poll()
        faults.add(silence)
        devices[2].set(HR, 0, 99)
        silent = await poller.poll()
        faults.discard(silence)
        back = await poller.poll()

    assert good.value("p0") == 20
    assert not silent.available
    assert {r.state for r in silent.readings.values()} == {PointState.UNAVAILABLE}
    assert all(r.value is None for r in silent.readings.values())
    assert silent.error is not None and "answer" in silent.error
    assert back.value("p0") == 99
    assert bus.stats(2).timeouts == 2


async def test_one_lost_answer_is_retried(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """A single missing answer costs a retry, not a reading."""
    settings, _ = link
    faults.add(NoAnswer(times=1, unit_id=2))
    async with Bus(settings, policy=RetryPolicy(retries=2, backoff=0.01)) as bus:
        result = await Poller(bus, profile, 2).poll()

    assert result.value("p5") == 25
    assert bus.stats(2).retries == 1
    assert bus.stats(2).timeouts == 1


@pytest.mark.parametrize(
    ("code", "state"), [(0x04, PointState.ERROR), (0x0B, PointState.UNAVAILABLE)]
)
async def test_device_exception_marks_the_block(
    link: tuple[LinkSettings, dict[int, RegisterImage]],
    profile: Profile,
    faults: FaultPlan,
    code: int,
    state: PointState,
) -> None:
    """A device failure is an error; a gateway's 'target down' is unavailable; the next poll recovers."""
    settings, _ = link
    faults.add(ExceptionAnswer(code=code, times=1, unit_id=2))
    async with Bus(settings) as bus:
        poller = Poller(bus, profile, 2)
        failed = await poller.poll()
        recovered = await poller.poll()

    assert {r.state for r in failed.readings.values()} == {state}
    assert f"0x{code:02X}" in (failed.readings["p0"].error or "")
    assert recovered.value("p0") == 20
    assert bus.stats(2).errors[f"exception_{code:02x}"] == 1


async def test_dropped_connection_is_reopened(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """The gateway closes the TCP connection; the bus reopens it and the poll succeeds."""
    settings, _ = link
    faults.add(DropConnection(times=1, unit_id=2))
    async with Bus(settings, policy=RetryPolicy(retries=2, backoff=0.01)) as bus:
        result = await Poller(bus, profile, 2).poll()

    assert result.value("p0") == 20
    assert bus.stats(2).retries >= 1


async def test_corrupt_answer_is_not_taken_for_a_value(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """A mangled frame never turns into a reading; the retry gets the real values."""
    settings, _ = link
    faults.add(CorruptFrame(times=1, unit_id=2))
    async with Bus(settings, policy=RetryPolicy(retries=2, backoff=0.01)) as bus:
        result = await Poller(bus, profile, 2).poll()

    assert [result.value(f"p{i}") for i in range(6)] == [20, 21, 22, 23, 24, 25]
    assert sum(bus.stats(2).errors.values()) >= 1


async def test_slow_answer_within_timeout_is_accepted_beyond_it_is_not(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """An answer after 0.1 s fits the 0.3 s timeout; one after 0.6 s does not."""
    settings, _ = link
    async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
        poller = Poller(bus, profile, 2)
        faults.add(Delay(seconds=0.1, times=1, unit_id=2))
        slow = await poller.poll()
        faults.add(Delay(seconds=0.6, times=1, unit_id=2))
        too_slow = await poller.poll()

    assert slow.value("p0") == 20
    assert too_slow.readings["p0"].state is PointState.UNAVAILABLE
    assert bus.stats(2).timeouts == 1


async def test_one_transaction_at_a_time_and_spacing(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile, faults: FaultPlan
) -> None:
    """Two devices polled at once on one bus take turns, each answer after 0.1 s."""
    settings, _ = link
    faults.add(Delay(seconds=0.1, times=None))
    async with Bus(settings) as bus:
        started = time.monotonic()
        first, second = await asyncio.gather(
            Poller(bus, profile, 1).poll(), Poller(bus, profile, 2).poll()
        )
        elapsed = time.monotonic() - started

    requests = bus.stats(1).requests + bus.stats(2).requests
    assert first.value("p0") == 10 and second.value("p0") == 20
    assert elapsed >= 0.1 * requests * 0.95


async def test_min_scan_interval_spaces_polls_of_a_slow_card(
    link: tuple[LinkSettings, dict[int, RegisterImage]], profile: Profile
) -> None:
    """A card that needs 0.3 s between scans is not polled sooner, however often the caller asks."""
    settings, _ = link
    card = replace(profile, limits=replace(profile.limits, min_scan_interval=0.3))
    async with Bus(settings) as bus:
        session = DeviceSession(bus, card, 2)
        started = time.monotonic()
        snapshots = [await session.refresh() for _ in range(3)]
        elapsed = time.monotonic() - started
        asked_too_soon = await session.poll_due()

    assert all(s.value("p0") == 20 for s in snapshots)
    assert elapsed >= 0.6
    assert asked_too_soon.polled_at == snapshots[-1].polled_at  # not polled again
