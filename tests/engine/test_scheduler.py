"""The scheduler of a link on a fake line: strict order, due devices only, honest timings."""

from __future__ import annotations

import asyncio

import pytest

from powerbus.bus import Bus
from powerbus.models import Table
from powerbus.scheduler import Scheduler
from powerbus.session import DeviceSession
from powerbus.snapshot import PollIntervals

from .fakes import IDENTITY_ADDRESS, METER_VALUES, FakeClock, FakeTransport, make_bus, small_meter

pytestmark = pytest.mark.hardware_free

UNITS = (1, 2, 3)
SLOW_ADDRESS = 300
"""Where the test meter's slow group (its temperature) is read."""


class Line:
    """Three test meters on one fake link, a session for each, and their scheduler."""

    def __init__(
        self,
        latency: float = 0.001,
        intervals: PollIntervals | None = None,
        unit_intervals: dict[int, PollIntervals] | None = None,
    ) -> None:
        """Build the link, the bus, the devices, the sessions and the scheduler."""
        self.clock = FakeClock()
        self.link = FakeTransport(self.clock, latency=latency)
        self.bus: Bus = make_bus(self.link, self.clock)
        meter = small_meter()
        self.sessions: dict[int, DeviceSession] = {}
        for unit in UNITS:
            self.link.add_unit(unit, meter, METER_VALUES)
            self.sessions[unit] = DeviceSession(
                self.bus,
                meter,
                unit,
                intervals=(unit_intervals or {}).get(unit)
                or intervals
                or PollIntervals(fast=1.0, normal=5.0, slow=20.0),
                clock=self.clock,
                wall_clock=self.clock.wall,
                sleep=self.clock.sleep,
            )
        self.scheduler = Scheduler(list(self.sessions.values()), clock=self.clock)

    async def run_for(self, seconds: float, tick: float = 0.01) -> None:
        """Run the due polls whenever there are any, for ``seconds``."""
        end = self.clock() + seconds
        while self.clock() < end:
            if not await self.scheduler.run_due():
                self.clock.advance(tick)

    def units_in_order(self) -> list[int]:
        """Return the units of the logged requests, each run of one unit counted once."""
        order: list[int] = []
        for request in self.link.log:
            if not order or order[-1] != request.unit:
                order.append(request.unit)
        return order


async def test_devices_are_polled_one_after_the_other_in_order() -> None:
    """A round polls each device whole, in the order they were added: requests never interleave."""
    line = Line()
    polled = await line.scheduler.run_due()
    assert list(polled) == [line.sessions[unit] for unit in UNITS]
    assert line.units_in_order() == list(UNITS)
    await line.run_for(30.0)
    order = line.units_in_order()
    assert order == list(UNITS) * (len(order) // len(UNITS))


async def test_each_device_is_reported_as_soon_as_it_was_polled() -> None:
    """The listener hears of a device before the next device's requests go out."""
    line = Line()
    heard: list[tuple[int, int]] = []

    def listener(session: DeviceSession, _snapshot: object) -> None:
        heard.append((session.unit, len(line.link.log)))

    await line.scheduler.run_due(listener)

    assert [unit for unit, _ in heard] == list(UNITS)
    for (unit, requests_so_far), _ in zip(heard, UNITS, strict=True):
        assert {r.unit for r in line.link.log[:requests_so_far]} <= set(
            UNITS[: UNITS.index(unit) + 1]
        )
        assert line.link.log[requests_so_far - 1].unit == unit


async def test_only_devices_with_a_due_group_are_polled() -> None:
    """A device polled every 5 s is left alone in the rounds of a device polled every second."""
    line = Line(unit_intervals={2: PollIntervals(fast=5.0, normal=5.0, slow=20.0)})
    line.scheduler.remove(line.sessions[3])
    await line.scheduler.run_due()
    line.link.log.clear()
    line.clock.advance(1.0)
    polled = await line.scheduler.run_due()
    assert list(polled) == [line.sessions[1]]
    assert {r.unit for r in line.link.log} == {1}
    assert await line.scheduler.run_due() == {}
    next_due = line.scheduler.next_due()
    assert next_due is not None
    assert next_due == pytest.approx(line.clock() + 1.0, abs=0.01)


def test_a_scheduler_without_devices_has_nothing_due() -> None:
    """No device, no due time."""
    assert Scheduler([], clock=FakeClock()).next_due() is None


async def test_a_line_too_slow_for_the_intervals_reports_the_interval_achieved() -> None:
    """Three devices of two 0.1 s requests each cannot be polled every 0.2 s: every 0.6 s is shown."""
    line = Line(latency=0.1, intervals=PollIntervals(fast=0.2, normal=1000.0, slow=1000.0))
    await line.run_for(20.0)
    requests_per_poll = 2  # the status input register and the power/current block
    round_time = len(UNITS) * requests_per_poll * 0.1
    timings = line.scheduler.timings()
    assert [t.session for t in timings] == [line.sessions[unit] for unit in UNITS]
    for timing in timings:
        (fast,) = (g for g in timing.groups if g.asked == 0.2)
        assert fast.achieved == pytest.approx(round_time, rel=0.05)
        assert fast.shortfall
    assert line.scheduler.shortfalls() == timings


async def test_a_line_fast_enough_reports_no_shortfall() -> None:
    """When the line keeps up, each group is read at about its interval."""
    line = Line(latency=0.001)
    await line.run_for(60.0)
    assert line.scheduler.shortfalls() == ()
    for timing in line.scheduler.timings():
        for group in timing.groups:
            assert group.achieved is not None
            assert group.asked * 0.95 <= group.achieved <= group.asked + 0.05


async def test_a_command_issued_during_a_round_runs_before_the_next_device_is_polled() -> None:
    """A write waits for the poll that holds the line, not for the rest of the round."""
    line = Line(latency=0.01)
    await line.scheduler.run_due()
    line.link.log.clear()
    line.clock.advance(1.0)
    writes: list[asyncio.Task[object]] = []

    def write_during_the_first_poll(unit: int) -> None:
        if unit == 1 and not writes:
            writes.append(asyncio.create_task(line.sessions[3].write_point("setpoint", 9)))

    line.link.on_request = write_during_the_first_poll
    await line.scheduler.run_due()
    await asyncio.gather(*writes)
    assert [(r.unit, r.function, r.address) for r in line.link.log if r.unit != 1] == [
        (3, "write_registers", 500),
        (3, "read", 500),  # the read-back
        (2, "read", 0),  # unit 2's poll: its status input register, then its fast block
        (2, "read", 100),
        (3, "read", 0),
        (3, "read", 100),
    ]
    assert line.units_in_order() == [1, 3, 2, 3]


async def test_a_dead_device_does_not_make_its_neighbours_read_everything() -> None:
    """A device that stopped answering costs its probes, not full polls of the others."""
    line = Line(latency=0.01)
    await line.scheduler.run_due()
    line.link.units[3].silent = True
    await line.run_for(60.0)
    for unit in (1, 2):
        reads = [r for r in line.link.log if r.unit == unit and r.table is Table.HOLDING_REGISTER]
        assert [r.address for r in reads].count(IDENTITY_ADDRESS) == 1  # the first poll only
        assert 60 // 20 <= [r.address for r in reads].count(SLOW_ADDRESS) <= 1 + 60 // 20
    assert line.scheduler.shortfalls() == ()
