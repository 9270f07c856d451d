"""The poller on a fake link: plan, read, decode; refused blocks; devices that do not answer."""

from __future__ import annotations

import pytest

from powerbus.bus import Bus, RetryPolicy
from powerbus.models import PointState, PollGroup, Profile, Table, Value
from powerbus.poller import ALL_GROUPS, Poller
from powerbus.profile import get_profile

from .fakes import GATEWAY_TARGET_FAILED, FakeClock, FakeTransport, SimUnit, make_bus, small_meter

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
PRO380_VALUES: dict[str, Value] = {
    "serial_number": "12345678",
    "voltage_l1": 230.5,
    "voltage_l2": 231.0,
    "frequency": 50.0,
    "active_power": 1.25,
    "active_energy": 1234.5,
}


@pytest.fixture
def clock() -> FakeClock:
    """Return the fake clock."""
    return FakeClock()


@pytest.fixture
def link(clock: FakeClock) -> FakeTransport:
    """Return an empty fake link."""
    return FakeTransport(clock, latency=0.01)


@pytest.fixture
def bus(link: FakeTransport, clock: FakeClock) -> Bus:
    """Return a bus over the fake link."""
    return make_bus(link, clock, policy=RetryPolicy(retries=1))


@pytest.fixture
def meter() -> Profile:
    """Return the small test meter."""
    return small_meter()


def add_meter(link: FakeTransport, meter: Profile, unit: int = 1) -> SimUnit:
    """Put a test meter with recognisable values at ``unit``."""
    device = link.add_unit(
        unit, meter, {"serial_number": "00c0ffee", "firmware": 7, "power": 1500, "current": 6}
    )
    device.put(meter.point("energy"), 123456)
    device.put(meter.point("temperature"), -5)
    return device


async def test_a_poll_reads_the_planned_blocks_and_decodes_every_point(
    bus: Bus, link: FakeTransport, clock: FakeClock
) -> None:
    """A PRO380 poll sends one request per planned block and returns each point's value."""
    pro380 = get_profile("pro380")
    link.add_unit(1, pro380, PRO380_VALUES).put(pro380.point("tariff"), 2)
    poller = Poller(bus, pro380, 1, clock=clock.wall)
    enabled = {p.key for p in pro380.points if p.enabled_by_default}
    plan = poller.plan(ALL_GROUPS, enabled)
    assert link.log == []  # planning sends nothing
    result = await poller.poll(ALL_GROUPS, enabled)
    assert len(link.log) == len(plan.reads.blocks)
    assert all(r.outcome == "ok" for r in link.log)
    assert result.available
    assert set(result.readings) == enabled
    for key, value in PRO380_VALUES.items():
        assert result.value(key) == (pytest.approx(value) if isinstance(value, float) else value)
    assert result.value("tariff") == "t2"
    assert all(r.state is PointState.VALID for r in result.readings.values())
    assert [(b.start, b.count) for b in result.blocks] == [
        (b.start, b.count) for b in plan.reads.blocks
    ]


async def test_a_poll_of_some_groups_reads_only_their_points(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """Polling the fast group sends nothing for the other groups."""
    add_meter(link, meter)
    poller = Poller(bus, meter, 1, clock=clock.wall)
    result = await poller.poll({PollGroup.FAST}, {"power", "current", "energy"})
    assert set(result.readings) == {"power", "current"}
    assert {(r.address, r.count) for r in link.log} == {(100, 2)}


async def test_a_point_with_a_scale_point_takes_its_exponent(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """A value is scaled by the power of ten its scale register holds."""
    device = add_meter(link, meter)
    device.put(meter.point("limit_scale"), -1)
    device.put(meter.point("limit"), 1234)
    result = await Poller(bus, meter, 1, clock=clock.wall).poll(ALL_GROUPS, {"limit"})
    assert result.value("limit") == pytest.approx(123.4)


async def test_a_refused_block_is_split_and_only_the_refused_point_is_lost(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """One refused register costs its own point, and the next poll does not ask for it."""
    add_meter(link, meter).refuse(HR, 100, 100)
    poller = Poller(bus, meter, 1, clock=clock.wall)
    result = await poller.poll(ALL_GROUPS, {"power", "current", "energy"})
    assert result.readings["power"].state is PointState.UNAVAILABLE
    assert result.value("current") == 6
    assert result.value("energy") == 123456
    assert [(r.address, r.count, r.outcome) for r in link.log] == [
        (100, 2, "exception_02"),
        (100, 1, "exception_02"),
        (101, 1, "ok"),
        (200, 2, "ok"),
    ]
    link.log.clear()
    again = await poller.poll(ALL_GROUPS, {"power", "current", "energy"})
    assert [(r.address, r.count) for r in link.log] == [(101, 1), (200, 2)]
    assert again.readings["power"].state is PointState.UNAVAILABLE
    assert again.value("current") == 6


async def test_a_poll_where_every_block_is_refused_learns_nothing(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """A device that refuses everything (booting, say) teaches nothing about its map."""
    device = add_meter(link, meter)
    device.refuse(HR, 0, 0xFFFF)
    device.refuse(Table.INPUT_REGISTER, 0, 0xFFFF)
    poller = Poller(bus, meter, 1, clock=clock.wall)
    keys = {"power", "current", "energy", "status"}
    before = poller.plan(ALL_GROUPS, keys)
    result = await poller.poll(ALL_GROUPS, keys)
    assert all(r.state is PointState.UNAVAILABLE for r in result.readings.values())
    assert result.available  # the device answers, it only refuses
    assert poller.splits.empty
    assert poller.plan(ALL_GROUPS, keys) == before
    device.allow_all()
    result = await poller.poll(ALL_GROUPS, keys)
    assert result.value("power") == 1500


@pytest.mark.parametrize("code", [0x0A, GATEWAY_TARGET_FAILED])
async def test_a_gateway_that_cannot_reach_the_device_makes_it_unavailable(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock, code: int
) -> None:
    """A gateway-path exception ends the poll: nothing more is sent, every point is unavailable."""
    add_meter(link, meter)
    link.fault(1, code)
    result = await Poller(bus, meter, 1, clock=clock.wall).poll(
        ALL_GROUPS, {"power", "energy", "temperature"}
    )
    assert not result.available
    assert result.error is not None
    assert "gateway" in result.error
    assert len(link.log) == 1
    assert all(r.state is PointState.UNAVAILABLE for r in result.readings.values())


async def test_a_silent_device_ends_the_poll_after_its_first_block(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """A device that times out costs one block's attempts, not one per block."""
    add_meter(link, meter).silent = True
    result = await Poller(bus, meter, 1, clock=clock.wall).poll(
        ALL_GROUPS, {"power", "energy", "temperature"}
    )
    assert not result.available
    assert {(r.address, r.outcome) for r in link.log} == {(100, "timeout")}
    assert len(link.log) == 2  # the first attempt and the policy's one retry
    assert all(r.state is PointState.UNAVAILABLE for r in result.readings.values())


async def test_a_device_error_other_than_a_refusal_marks_its_points_as_errors(
    bus: Bus, link: FakeTransport, meter: Profile, clock: FakeClock
) -> None:
    """A device failure (0x04) on one block spoils that block only."""
    add_meter(link, meter)
    link.fault(1, 0x04)
    result = await Poller(bus, meter, 1, clock=clock.wall).poll(
        ALL_GROUPS, {"power", "current", "energy"}
    )
    assert result.available
    assert result.readings["power"].state is PointState.ERROR
    assert result.readings["current"].state is PointState.ERROR
    assert result.value("energy") == 123456
    assert len(link.log) == 2  # no split after an exception other than a refusal
