"""Learned refusals: re-probed after a doubling back-off, cleared by an answer, kept across restarts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from powerbus.errors import ConfigError
from powerbus.models import DataType, Point, PointState, Table
from powerbus.planner import ReadBlock, block_of, plan_reads
from powerbus.poller import ALL_GROUPS, Poller
from powerbus.refusals import SplitMemory

from .fakes import FakeClock, FakeTransport, make_bus, small_meter

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
BACKOFF = 60.0
BACKOFF_MAX = 3600.0


def register(key: str, address: int) -> Point:
    """Return a one-register point."""
    return Point(key=key, name=key, table=HR, address=address, data_type=DataType.U16, count=1)


def block(*points: Point) -> ReadBlock:
    """Return the read of ``points`` (in address order)."""
    return block_of(HR, points)


def refused_for(memory: SplitMemory, clock: FakeClock, point: Point, limit: float) -> float:
    """Seconds from now until ``point`` may be read again (``limit`` if it stays refused)."""
    start = clock()
    step = 0.5
    while memory.is_refused(point) and clock() - start < limit:
        clock.advance(step)
    return clock() - start


async def test_a_block_refused_while_booting_is_read_again_after_the_backoff() -> None:
    """A device that refused a block while it booted is read in full once the back-off is over."""
    clock = FakeClock()
    link = FakeTransport(clock)
    meter = small_meter()
    device = link.add_unit(1, meter, {"power": 1500, "current": 6, "energy": 99})
    device.refuse(HR, 100, 101)  # the fast block is not ready yet; the energy block is
    bus = make_bus(link, clock)
    poller = Poller(bus, meter, 1, clock=clock.wall, splits=SplitMemory(clock=clock))
    keys = {"power", "current", "energy"}

    first = await poller.poll(ALL_GROUPS, keys)
    assert first.readings["power"].state is PointState.UNAVAILABLE
    assert first.value("energy") == 99
    device.allow_all()  # booted

    clock.advance(BACKOFF - 1)
    link.log.clear()
    early = await poller.poll(ALL_GROUPS, keys)
    assert early.readings["power"].state is PointState.UNAVAILABLE
    assert [r.address for r in link.log] == [200]  # the refused block is not asked for yet

    clock.advance(1)
    link.log.clear()
    later = await poller.poll(ALL_GROUPS, keys)
    assert (later.value("power"), later.value("current")) == (1500, 6)
    assert [(r.address, r.count) for r in link.log] == [(100, 2), (200, 2)]
    assert poller.splits.empty


def test_each_refusal_of_a_span_doubles_its_backoff_up_to_the_maximum() -> None:
    """A span refused again and again is tried after 60 s, 120 s, 240 s ... then every hour."""
    clock = FakeClock()
    memory = SplitMemory(clock=clock)
    hole = register("hole", 10)
    waits = []
    for _ in range(9):
        assert memory.record_refusal(block(hole)) == []
        waits.append(refused_for(memory, clock, hole, 2 * BACKOFF_MAX))
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_a_span_refused_for_weeks_is_still_tried_every_backoff_maximum() -> None:
    """A permanent hole keeps being re-probed hourly; its memory stays exportable."""
    clock = FakeClock()
    memory = SplitMemory(clock=clock, backoff=1.0, backoff_max=2.0)
    hole = register("hole", 10)
    for _ in range(1100):
        memory.record_refusal(block(hole))
        clock.advance(2.0)
        assert not memory.is_refused(hole)
    twin = SplitMemory(clock=clock, backoff=1.0, backoff_max=2.0)
    twin.restore(memory.export())
    assert twin.is_refused(hole)


def test_a_read_that_is_answered_clears_what_it_held() -> None:
    """An answered read shows the refusals inside it to be wrong now."""
    clock = FakeClock()
    memory = SplitMemory(clock=clock)
    first, second, third = register("a", 10), register("b", 11), register("c", 12)
    memory.record_refusal(block(second))
    memory.record_refusal(block(third))
    assert memory.is_refused(second)
    memory.record_answer(block(first, second))
    assert not memory.is_refused(second)
    assert memory.is_refused(third)
    memory.record_answer(block(third))
    assert memory.empty


def test_a_refused_read_across_a_seam_keeps_the_halves_apart_until_its_backoff() -> None:
    """Two halves that answer alone are not read together again until the seam's back-off is over."""
    clock = FakeClock()
    memory = SplitMemory(clock=clock)
    low, high = register("low", 10), register("high", 11)
    retry = memory.record_refusal(block(low, high))
    assert [(b.start, b.count) for b in retry] == [(10, 1), (11, 1)]
    assert not memory.allows_read(HR, 10, 2)
    clock.advance(BACKOFF)
    assert memory.allows_read(HR, 10, 2)


def learn_something(clock: FakeClock) -> SplitMemory:
    """Return a memory with two refused spans (one refused twice) and a suspected seam."""
    memory = SplitMemory(clock=clock)
    memory.record_refusal(block(register("x", 5)))
    clock.advance(BACKOFF)
    memory.record_refusal(block(register("x", 5)))
    memory.record_refusal(block(register("y", 40)))
    memory.record_refusal(block(register("a", 20), register("b", 21)))
    return memory


def test_export_and_restore_round_trip() -> None:
    """What was learnt survives a restart, and is tried again after its back-off."""
    clock = FakeClock()
    memory = learn_something(clock)
    exported = memory.export()
    assert exported["refused"] and exported["suspected"]

    later = FakeClock(start=50.0)  # a new process: its own monotonic clock
    restored = SplitMemory(clock=later)
    restored.restore(exported)
    assert restored.export() == exported
    points = [register("x", 5), register("a", 20), register("b", 21), register("y", 40)]
    limits = small_meter().limits
    assert plan_reads(points, limits, restored) == plan_reads(points, limits, memory)
    later.advance(2 * BACKOFF)  # the longest back-off restored: two refusals
    assert not any(restored.is_refused(point) for point in points)
    assert restored.allows_read(HR, 20, 2)


BAD_EXPORTS: list[Any] = [
    [],
    {"refused": 5},
    {"refused": ["nonsense"]},
    {"refused": [{"table": "holding_register", "start": 1}]},
    {"refused": [{"table": "register", "start": 1, "end": 1, "strikes": 1}]},
    {"refused": [{"table": "holding_register", "start": 2, "end": 1, "strikes": 1}]},
    {"refused": [{"table": "holding_register", "start": -1, "end": 1, "strikes": 1}]},
    {"refused": [{"table": "holding_register", "start": 1, "end": 70000, "strikes": 1}]},
    {"refused": [{"table": "holding_register", "start": 1.0, "end": 1, "strikes": 1}]},
    {"refused": [{"table": "holding_register", "start": 1, "end": 1, "strikes": 0}]},
    {"refused": [{"table": "holding_register", "start": 1, "end": 1, "strikes": True}]},
    {"suspected": [{"table": "holding_register", "first": [1, 2], "second": [2, 3], "strikes": 1}]},
    {"suspected": [{"table": "holding_register", "first": 1, "second": [2, 3], "strikes": 1}]},
    {
        "refused": [{"table": "holding_register", "start": 1, "end": 1, "strikes": 1}],
        "suspected": [{"table": "coil", "first": [1, 2, 3], "second": [4, 5], "strikes": 1}],
    },
]


@pytest.mark.parametrize("bad", BAD_EXPORTS)
def test_restoring_bad_data_raises_and_changes_nothing(bad: Any) -> None:
    """Data that export() could not have written is refused, and what was known stays."""
    clock = FakeClock()
    memory = learn_something(clock)
    before = memory.export()
    with pytest.raises(ConfigError, match="learned refusals"):
        memory.restore(bad)
    assert memory.export() == before
    assert memory.is_refused(register("x", 5))


@settings(max_examples=60, deadline=None)
@given(
    holes=st.lists(st.integers(0, 30), max_size=6, unique=True),
    elapsed=st.floats(0, 3 * BACKOFF),
)
def test_a_restored_memory_plans_like_the_one_it_came_from(
    holes: list[int], elapsed: float
) -> None:
    """Whatever was learnt, the restored memory refuses the same reads for the same time."""
    clock = FakeClock()
    memory = SplitMemory(clock=clock)
    points = [register(f"p{address}", address) for address in range(32)]
    for address in holes:
        memory.record_refusal(block(points[address]))
    restored = SplitMemory(clock=clock)
    restored.restore(memory.export())
    clock.advance(elapsed)
    limits = small_meter().limits
    assert plan_reads(points, limits, restored) == plan_reads(points, limits, memory)
