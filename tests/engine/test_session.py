"""Device sessions on a fake link: what is polled when, snapshots, identity and outages."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings, strategies as st
import pytest

from powerbus.models import PointState, PollGroup, Table
from powerbus.profile import get_profile, with_limits
from powerbus.snapshot import PollIntervals
from powerbus.turns import Priority

from .fakes import Rig, all_valid, small_meter

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
# Where the test meter's groups are read: the first address of each group's block.
IDENTITY, FAST, NORMAL, SLOW = 0, 100, 200, 300

# --- What is polled when ---------------------------------------------------------------------


async def test_the_first_poll_reads_every_group_and_the_identity() -> None:
    """Before anything was read, every group in use and the once points are due."""
    rig = Rig()
    session = rig.session()
    assert session.due_groups() == set(PollGroup)
    snapshot = await session.poll_due()
    assert {r.address for r in rig.link.log if r.table is HR} == {
        IDENTITY,
        FAST,
        NORMAL,
        SLOW,
        500,
        600,
    }
    assert snapshot.value("power") == 1500
    assert snapshot.value("temperature") == -5
    assert snapshot.identity is not None
    assert (snapshot.identity.serial, snapshot.identity.firmware) == ("22091039", "7")
    assert snapshot.uid == "testmeter_22091039"


async def test_each_group_is_polled_at_its_own_interval() -> None:
    """Fast, normal and slow points are read every 1, 5 and 20 s; once points only once."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    await rig.tick_for(session, 60.0)
    for address, interval in ((FAST, 1.0), (NORMAL, 5.0), (SLOW, 20.0)):
        times = rig.reads_at(address)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) == pytest.approx(60.0 / interval + 1, abs=1)
        assert all(interval * 0.95 <= gap <= interval + 0.1 + 1e-6 for gap in gaps), gaps
    assert len(rig.reads_at(IDENTITY)) == 1


async def test_a_poll_between_due_times_sends_nothing() -> None:
    """Calling poll_due when no group is due leaves the line alone."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    sent = len(rig.link.log)
    rig.clock.advance(0.5)
    assert session.due_groups() == frozenset()
    assert session.next_due() == pytest.approx(rig.link.log[0].started + 1.0, abs=0.05)
    await session.poll_due()
    assert len(rig.link.log) == sent


@settings(max_examples=40, deadline=None)
@given(
    intervals=st.tuples(st.floats(0.2, 5.0), st.floats(0.2, 20.0), st.floats(0.2, 60.0)).map(
        lambda t: PollIntervals(fast=t[0], normal=t[1], slow=t[2])
    ),
    ticks=st.lists(st.floats(0.01, 1.0), min_size=20, max_size=200),
)
async def test_groups_are_polled_neither_too_often_nor_too_late(
    intervals: PollIntervals, ticks: list[float]
) -> None:
    """Ticked at random moments, each group is read at its interval, neither sooner nor later.

    Never sooner than the interval less a little slack, and always by the first tick
    after it is due.
    """
    rig = Rig(latency=0.0)
    session = rig.session(intervals=intervals)
    await session.poll_due()
    longest_tick = 0.0
    for tick in ticks:
        step = min(tick, intervals.fast, intervals.normal, intervals.slow)
        longest_tick = max(longest_tick, step)
        rig.clock.advance(step)
        await session.poll_due()
    for address, group in (
        (FAST, PollGroup.FAST),
        (NORMAL, PollGroup.NORMAL),
        (SLOW, PollGroup.SLOW),
    ):
        interval = intervals.of(group)
        assert interval is not None
        times = rig.reads_at(address)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= interval * 0.95 - 1e-9 for gap in gaps)
        assert all(gap <= interval + longest_tick + 1e-9 for gap in gaps)
        assert rig.clock() - times[-1] <= interval + longest_tick + 1e-9


async def test_once_points_are_read_after_a_reopen_and_on_request_only() -> None:
    """Identity is read on the first poll, after the link reopens, and on request_refresh()."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    await rig.tick_for(session, 30.0)
    assert len(rig.reads_at(IDENTITY)) == 1

    rig.bus.close()  # the link drops; the next request reopens it
    await rig.tick_for(session, 30.0)
    assert len(rig.reads_at(IDENTITY)) == 2

    session.request_refresh()
    assert session.due_groups() == set(PollGroup)
    await session.poll_due()
    assert len(rig.reads_at(IDENTITY)) == 3
    await rig.tick_for(session, 30.0)
    assert len(rig.reads_at(IDENTITY)) == 3


async def test_disabled_points_cost_no_bus_time() -> None:
    """Only enabled points (and the identity) are read: fewer points, fewer requests."""
    costs = {}
    for enabled in (None, {"power"}, {"power", "spare"}):
        rig = Rig()
        session = rig.session(enabled=enabled)
        await session.poll_due()
        await rig.tick_for(session, 30.0)
        costs[None if enabled is None else tuple(sorted(enabled))] = (
            len(rig.link.log),
            rig.link.registers_read(),
            {r.address for r in rig.link.log if r.table is HR},
        )
    default, power, with_spare = costs[None], costs[("power",)], costs[("power", "spare")]
    assert 400 not in default[2]  # spare is disabled by default
    assert power[2] == {IDENTITY, FAST}
    assert power[0] < default[0]
    assert power[1] < default[1]
    assert with_spare[2] == {IDENTITY, FAST, 400}
    assert with_spare[1] > power[1]


async def test_enabling_a_point_reads_it_at_the_next_poll() -> None:
    """A point enabled later is read at once; a point disabled leaves the snapshot."""
    rig = Rig()
    session = rig.session(enabled={"power"})
    await session.poll_due()
    session.set_enabled({"power", "energy"})
    snapshot = await session.poll_due()
    assert snapshot.value("energy") == 123456
    session.set_enabled({"energy"})
    assert "power" not in session.snapshot.readings


async def test_the_minimum_scan_interval_holds_polls_apart() -> None:
    """A device that needs a second between polls is not polled sooner, even on refresh()."""
    rig = Rig(with_limits(small_meter(), min_scan_interval=1.0))
    session = rig.session(intervals=PollIntervals(fast=0.2, normal=5.0, slow=20.0))
    await session.poll_due()
    await rig.tick_for(session, 5.0, tick=0.05)
    rig.clock.advance(0.3)
    await session.refresh()
    await rig.tick_for(session, 5.0, tick=0.05)
    times = rig.reads_at(FAST)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.0 - 1e-9
    assert max(gaps) <= 1.05 + 0.05


async def test_a_poll_that_waited_for_a_command_counts_from_when_it_ran() -> None:
    """A poll held up by a long command keeps the minimum scan interval from when it really ran."""
    rig = Rig(with_limits(small_meter(), min_scan_interval=1.0))
    session = rig.session(intervals=PollIntervals(fast=0.2, normal=5.0, slow=20.0))
    await session.poll_due()
    rig.clock.advance(1.0)
    release = asyncio.Event()

    async def long_command() -> None:
        async with rig.bus.turn(Priority.COMMAND):
            await release.wait()

    command = asyncio.create_task(long_command())
    await asyncio.sleep(0)
    poll = asyncio.create_task(session.poll_due())
    await asyncio.sleep(0)
    rig.clock.advance(2.0)  # the command takes two seconds
    release.set()
    await asyncio.gather(command, poll)
    await rig.tick_for(session, 3.0, tick=0.05)
    times = rig.reads_at(FAST)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.0 - 1e-9


# --- Snapshots and outages -------------------------------------------------------------------


async def test_an_unreachable_device_keeps_its_last_values_marked_unavailable() -> None:
    """While the device is silent, every point is unavailable with its old value and time."""
    rig = Rig()
    session = rig.session()
    before = await session.poll_due()
    rig.device.silent = True
    rig.clock.advance(1.0)
    after = await session.poll_due()
    assert not after.available
    assert after.error is not None
    assert after.readings.keys() == before.readings.keys()
    for key, reading in after.readings.items():
        assert reading.state is PointState.UNAVAILABLE
        assert reading.value == before.readings[key].value
        assert reading.timestamp == before.readings[key].timestamp
        assert after.value(key) is None
    assert after.last_success == before.last_success
    assert after.polled_at is not None
    assert before.polled_at is not None
    assert after.polled_at > before.polled_at


async def test_a_refused_point_is_never_shown_with_its_old_value_as_valid() -> None:
    """A point the device stops answering for keeps its old value, marked unavailable."""
    rig = Rig()
    session = rig.session()
    before = await session.poll_due()
    rig.device.refuse(HR, FAST, FAST)
    rig.clock.advance(1.0)
    after = await session.poll_due()
    assert after.available
    power = after.readings["power"]
    assert power.state is PointState.UNAVAILABLE
    assert (power.value, power.timestamp) == (1500, before.readings["power"].timestamp)
    assert after.value("power") is None
    assert after.value("current") == 6
    assert after.readings["current"].timestamp > before.readings["current"].timestamp


@settings(max_examples=30, deadline=None)
@given(
    events=st.lists(
        st.sampled_from(["tick", "tick", "silent", "answer", "refuse", "allow", "reconnect"]),
        min_size=5,
        max_size=40,
    )
)
async def test_an_old_value_is_never_shown_as_valid(events: list[str]) -> None:
    """Whatever the device does, a valid power reading is the value it held when last polled."""
    rig = Rig()
    session = rig.session()
    power = rig.profile.point("power")
    for step, event in enumerate(events):
        rig.device.put(power, step)  # the power changes at every step
        if event == "silent":
            rig.device.silent = True
        elif event == "answer":
            rig.device.silent = False
        elif event == "refuse":
            rig.device.refuse(HR, FAST, FAST)
        elif event == "allow":
            rig.device.allow_all()
        elif event == "reconnect":
            rig.bus.close()
        rig.clock.advance(1.0)
        snapshot = await session.poll_due()
        reading = snapshot.readings.get("power")
        if not snapshot.available:
            assert all(r.state is not PointState.VALID for r in snapshot.readings.values())
        if reading is not None and reading.state is PointState.VALID:
            assert reading.value == step
            assert snapshot.value("power") == step
        else:
            assert snapshot.value("power") is None


async def test_an_offline_device_is_probed_with_one_request_per_due_poll() -> None:
    """A dead device costs one request without retries per poll, not a full poll with retries."""
    rig = Rig()
    session = rig.session()
    await session.poll_due()
    rig.device.silent = True
    rig.clock.advance(1.0)
    await session.poll_due()
    assert not session.available
    for _ in range(10):
        rig.clock.advance(1.0)
        assert session.due_groups()
        sent = len(rig.link.log)
        await session.poll_due()
        assert len(rig.link.log) == sent + 1
    assert not session.available


@pytest.mark.parametrize("outage", ["silent", "link down", "gateway"])
async def test_a_device_back_after_a_40_s_outage_is_valid_within_two_fast_polls(
    outage: str,
) -> None:
    """The acceptance scenario: a PRO380 polled every 0.2 s is valid again within two polls."""
    rig = Rig(get_profile("pro380"))
    session = rig.session(intervals=PollIntervals(fast=0.2, normal=10.0, slow=60.0))
    first = await session.poll_due()
    enabled = set(first.readings)
    assert all_valid(first, enabled)

    def set_outage(down: bool) -> None:
        if outage == "silent":
            rig.device.silent = down
        elif outage == "link down":
            rig.link.fail_open = down
            if down:
                rig.bus.close()
        elif down:
            rig.link.fault(1, *[0x0B] * 100_000)
        else:
            rig.link.clear_faults()

    set_outage(True)
    await rig.tick_for(session, 40.0, tick=0.05)
    assert not session.snapshot.available
    assert not any(r.state is PointState.VALID for r in session.snapshot.readings.values())
    set_outage(False)
    polls = 0
    while not all_valid(session.snapshot, enabled):
        polls += await rig.tick_for(session, 0.05, tick=0.05)
        assert polls <= 2, f"still not valid after {polls} polls"
    assert session.snapshot.identity is not None
    assert session.snapshot.identity.serial == "22091039"
