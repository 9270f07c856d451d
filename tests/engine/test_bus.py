"""The bus owner on a fake link: spacing, retries, reconnect back-off, statistics and epoch."""

from __future__ import annotations

import pytest

from powerbus.bus import Bus, RetryPolicy, error_kind
from powerbus.errors import (
    DecodeError,
    DeviceExceptionError,
    LinkError,
    ModbusError,
    RequestTimeoutError,
)
from powerbus.models import BusLimits, Table

from .fakes import DEVICE_BUSY, RTU_LINK, FakeClock, FakeTransport, Request, make_bus

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
NO_RETRIES = RetryPolicy(retries=0)


def gaps(requests: list[Request]) -> list[float]:
    """Seconds of silence before each request after the first."""
    return [b.started - a.ended for a, b in zip(requests, requests[1:], strict=False)]


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock that only moves when something sleeps or waits."""
    return FakeClock()


@pytest.fixture
def link(clock: FakeClock) -> FakeTransport:
    """Return a fake link with units 1 and 2, each answer taking 10 ms."""
    transport = FakeTransport(clock, latency=0.01)
    transport.add_unit(1).put_raw(HR, 0, [11, 12, 13])
    transport.add_unit(2).put_raw(HR, 0, [21, 22, 23])
    return transport


@pytest.fixture
def bus(link: FakeTransport, clock: FakeClock) -> Bus:
    """Return a TCP bus over the fake link."""
    return make_bus(link, clock)


# --- Spacing ---------------------------------------------------------------------------------


async def test_reads_return_what_the_unit_holds(bus: Bus) -> None:
    """A read returns the unit's registers; each unit answers for itself."""
    assert await bus.read(1, HR, 0, 3) == [11, 12, 13]
    assert await bus.read(2, HR, 1, 2) == [22, 23]


async def test_requests_keep_the_minimum_spacing_and_no_more(bus: Bus, link: FakeTransport) -> None:
    """Back-to-back requests leave exactly the device's minimum spacing between them."""
    limits = BusLimits(min_spacing=0.05)
    for _ in range(5):
        await bus.read(1, HR, 0, 1, limits)
    assert gaps(link.log) == pytest.approx([0.05] * 4)


async def test_requests_later_than_the_spacing_are_not_delayed(
    bus: Bus, link: FakeTransport, clock: FakeClock
) -> None:
    """A request after a long enough pause goes out at once."""
    limits = BusLimits(min_spacing=0.05)
    await bus.read(1, HR, 0, 1, limits)
    clock.advance(1.0)
    asked = clock()
    await bus.read(1, HR, 0, 1, limits)
    assert link.log[-1].started == asked


async def test_rtu_keeps_the_frame_silence_and_a_pause_when_the_unit_changes(
    link: FakeTransport, clock: FakeClock
) -> None:
    """On RTU, 3.5 characters of silence end a frame; switching units adds the switch delay."""
    bus = make_bus(link, clock, RTU_LINK, unit_switch_delay=0.01)
    for unit in (1, 1, 2, 2, 1):
        await bus.read(unit, HR, 0, 1)
    silence = 3.5 * 11 / 9600  # 3.5 characters of 11 bits at 9600 Bd
    assert gaps(link.log) == pytest.approx([silence, silence + 0.01, silence, silence + 0.01])


async def test_rtu_by_default_pauses_longer_when_the_unit_changes(
    link: FakeTransport, clock: FakeClock
) -> None:
    """Without a configured switch delay, RTU still pauses more before another unit."""
    bus = make_bus(link, clock, RTU_LINK)
    for unit in (1, 1, 2):
        await bus.read(unit, HR, 0, 1)
    same, switch = gaps(link.log)
    assert switch > same


async def test_a_longer_minimum_spacing_wins_over_the_frame_silence(
    link: FakeTransport, clock: FakeClock
) -> None:
    """The RTU silence is a floor; a device's own minimum spacing may be longer."""
    bus = make_bus(link, clock, RTU_LINK, unit_switch_delay=0.0)
    limits = BusLimits(min_spacing=0.1)
    for unit in (1, 2):
        await bus.read(unit, HR, 0, 1, limits)
    assert gaps(link.log) == pytest.approx([0.1])


async def test_tcp_does_not_pause_between_units(bus: Bus, link: FakeTransport) -> None:
    """Modbus TCP frames carry their own length: no silence is needed between units."""
    for unit in (1, 2, 1):
        await bus.read(unit, HR, 0, 1)
    assert gaps(link.log) == pytest.approx([0.0, 0.0])


# --- Retries ---------------------------------------------------------------------------------


async def test_timeouts_are_retried_with_doubling_backoff(bus: Bus, link: FakeTransport) -> None:
    """Two timeouts, then an answer: the read succeeds and the retries are counted."""
    link.fault(1, "timeout", "timeout")
    assert await bus.read(1, HR, 0, 2) == [11, 12]
    stats = bus.stats(1)
    assert (stats.requests, stats.responses, stats.retries, stats.timeouts) == (3, 1, 2, 2)
    assert stats.errors == {"timeout": 2}
    assert [r.outcome for r in link.log] == ["timeout", "timeout", "ok"]
    assert gaps(link.log) == pytest.approx([0.05, 0.1])


async def test_a_timeout_waits_the_request_timeout(
    bus: Bus, link: FakeTransport, clock: FakeClock
) -> None:
    """A silent unit costs the device's timeout per attempt, plus the per-register part."""
    link.units[1].silent = True
    limits = BusLimits(timeout=0.5, timeout_per_register=0.01)
    started = clock()
    with pytest.raises(RequestTimeoutError):
        await bus.read(1, HR, 0, 10, limits, retries=0)
    assert clock() - started == pytest.approx(0.6)


async def test_timeouts_past_the_retries_raise(bus: Bus, link: FakeTransport) -> None:
    """A unit that never answers costs one attempt plus the policy's retries, then raises."""
    link.units[1].silent = True
    with pytest.raises(RequestTimeoutError):
        await bus.read(1, HR, 0, 1)
    assert len(link.requests(1)) == 3
    assert bus.stats(1).retries == 2


async def test_busy_answers_are_retried(bus: Bus, link: FakeTransport) -> None:
    """A busy device (exception 0x06) is asked again after a backoff."""
    link.fault(1, DEVICE_BUSY, DEVICE_BUSY)
    assert await bus.read(1, HR, 0, 1) == [11]
    stats = bus.stats(1)
    assert stats.retries == 2
    assert stats.errors == {"exception_06": 2}
    assert gaps(link.log) == pytest.approx([0.05, 0.1])


async def test_backoff_stops_growing_at_its_maximum(link: FakeTransport, clock: FakeClock) -> None:
    """The wait between retries doubles up to the policy's maximum."""
    policy = RetryPolicy(retries=5, backoff=0.1, backoff_max=0.3)
    bus = make_bus(link, clock, policy=policy)
    link.fault(1, *[DEVICE_BUSY] * 5)
    await bus.read(1, HR, 0, 1)
    assert gaps(link.log) == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])


async def test_an_illegal_address_answer_is_not_retried(bus: Bus, link: FakeTransport) -> None:
    """A refused address stays refused: one request, no retry."""
    link.units[1].refuse(HR, 5, 5)
    with pytest.raises(DeviceExceptionError) as caught:
        await bus.read(1, HR, 0, 10)
    assert caught.value.is_illegal_address
    assert len(link.log) == 1
    assert bus.stats(1).retries == 0
    assert bus.stats(1).errors == {"exception_02": 1}


@pytest.mark.parametrize("code", [0x01, 0x03, 0x04, 0x0B])
async def test_other_exception_answers_are_not_retried(
    bus: Bus, link: FakeTransport, code: int
) -> None:
    """Only busy answers are worth a second try."""
    link.fault(1, code)
    with pytest.raises(DeviceExceptionError) as caught:
        await bus.read(1, HR, 0, 1)
    assert caught.value.code == code
    assert len(link.log) == 1
    assert bus.stats(1).errors == {f"exception_{code:02x}": 1}


async def test_retries_zero_overrides_the_policy(bus: Bus, link: FakeTransport) -> None:
    """A read with ``retries=0`` is sent once, whatever the policy says."""
    link.fault(1, "timeout")
    with pytest.raises(RequestTimeoutError):
        await bus.read(1, HR, 0, 1, retries=0)
    assert len(link.log) == 1
    assert bus.stats(1).retries == 0


async def test_a_link_lost_mid_request_is_reopened_and_the_request_retried(
    bus: Bus, link: FakeTransport
) -> None:
    """A dropped connection is opened again and the read goes through."""
    await bus.read(1, HR, 0, 1)
    link.fault(1, "lost")
    assert await bus.read(1, HR, 0, 1) == [11]
    assert link.opens == 2
    assert bus.stats(1).errors == {"link": 1}


# --- Errors and statistics -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (DeviceExceptionError(0x02), "exception_02"),
        (DeviceExceptionError(0x0B), "exception_0b"),
        (RequestTimeoutError("late"), "timeout"),
        (LinkError("gone"), "link"),
        (DecodeError("short"), "decode"),
        (ModbusError("odd"), "other"),
    ],
)
def test_each_error_has_its_statistics_bucket(error: ModbusError, kind: str) -> None:
    """Diagnostics show errors by kind, exceptions by their code."""
    assert error_kind(error) == kind


async def test_statistics_count_latency_and_bytes(bus: Bus, link: FakeTransport) -> None:
    """Answered requests book their latency; frames book their bytes to the unit."""
    await bus.read(1, HR, 0, 3)
    await bus.read(1, HR, 0, 1)
    stats = bus.stats(1)
    assert stats.latency_mean == pytest.approx(0.01)
    assert stats.latency_max == pytest.approx(0.01)
    assert stats.bytes_sent == 16
    assert stats.bytes_received == (5 + 6) + (5 + 2)
    assert bus.stats(2).requests == 0
    assert stats.as_dict()["latency_mean_ms"] == 10.0


async def test_writes_reach_the_unit(bus: Bus, link: FakeTransport) -> None:
    """Register and coil writes land in the unit's image."""
    await bus.write_registers(1, 0, [7, 8])
    await bus.write_coils(1, 3, [True, False, True])
    assert await bus.read(1, HR, 0, 3) == [7, 8, 13]
    assert await bus.read(1, Table.COIL, 3, 3) == [True, False, True]


# --- Reconnects ------------------------------------------------------------------------------


async def test_epoch_counts_every_open_of_the_link(
    bus: Bus, link: FakeTransport, clock: FakeClock
) -> None:
    """The epoch changes on each (re)open, and only then."""
    assert bus.epoch == 0
    await bus.read(1, HR, 0, 1)
    await bus.read(2, HR, 0, 1)
    assert bus.epoch == 1
    bus.close()
    await bus.read(1, HR, 0, 1)
    assert bus.epoch == 2
    link.fault(1, "lost")
    await bus.read(1, HR, 0, 1)
    assert bus.epoch == 3
    assert link.opens == 3


async def test_a_reopen_that_only_drops_a_late_answer_is_no_reconnect(
    bus: Bus, link: FakeTransport, clock: FakeClock
) -> None:
    """After a timeout the link is opened afresh, but the devices on it are the same ones."""
    await bus.read(1, HR, 0, 1)
    link.fault(2, "timeout")
    await bus.read(2, HR, 0, 1)
    assert link.opens == 2  # a fresh link, so that a late answer is never taken for another
    assert bus.epoch == 1
    link.units[2].silent = True
    link.fail_open = True
    with pytest.raises(RequestTimeoutError):
        await bus.read(2, HR, 0, 1, retries=0)
    with pytest.raises(LinkError):
        await bus.read(1, HR, 0, 1, retries=0)  # the link is really down now
    link.fail_open = False
    clock.advance(60.0)
    await bus.read(1, HR, 0, 1)
    assert bus.epoch == 2


async def open_attempt_times(
    bus: Bus, link: FakeTransport, clock: FakeClock, span: float
) -> list[float]:
    """Ask for a read every 10 ms for ``span`` seconds of a dead link; return the open attempts."""
    attempts: list[float] = []
    end = clock() + span
    while clock() < end:
        before = link.open_attempts
        with pytest.raises(LinkError):
            await bus.read(1, HR, 0, 1)
        if link.open_attempts > before:
            attempts.append(clock())
        clock.advance(0.01)
    return attempts


async def test_reopening_a_dead_link_backs_off_doubling_up_to_the_maximum(
    link: FakeTransport, clock: FakeClock
) -> None:
    """A link that cannot be opened is tried after 1, 2, 4, 8 s, then every 8 s."""
    policy = RetryPolicy(retries=0, reconnect_backoff=1.0, reconnect_backoff_max=8.0)
    bus = make_bus(link, clock, policy=policy)
    link.fail_open = True
    attempts = await open_attempt_times(bus, link, clock, 24.0)
    waits = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert waits == pytest.approx([1, 2, 4, 8, 8], abs=0.011)


async def test_limit_reconnect_backoff_caps_the_wait(link: FakeTransport, clock: FakeClock) -> None:
    """A session's fast interval caps the back-off: a link that comes back is used soon."""
    bus = make_bus(link, clock, policy=NO_RETRIES)
    bus.limit_reconnect_backoff(0.2)
    bus.limit_reconnect_backoff(5.0)  # a looser limit does not undo a tighter one
    link.fail_open = True
    attempts = await open_attempt_times(bus, link, clock, 3.0)
    waits = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert len(waits) > 10
    assert max(waits) == pytest.approx(0.2, abs=0.011)


async def test_a_link_that_comes_back_is_used_after_the_backoff(
    link: FakeTransport, clock: FakeClock
) -> None:
    """Once the back-off is over, the link is opened again, and the epoch moves on."""
    bus = make_bus(link, clock, policy=NO_RETRIES)
    await bus.read(1, HR, 0, 1)
    bus.close()
    link.fail_open = True
    with pytest.raises(LinkError):
        await bus.read(1, HR, 0, 1)
    link.fail_open = False
    with pytest.raises(LinkError, match="next attempt"):
        await bus.read(1, HR, 0, 1)
    clock.advance(1.0)
    assert await bus.read(1, HR, 0, 1) == [11]
    assert bus.epoch == 2


async def test_a_long_outage_keeps_failing_with_link_errors(
    link: FakeTransport, clock: FakeClock
) -> None:
    """Hours of failed reopens never turn into anything but LinkError, and the link comes back."""
    bus = make_bus(link, clock, policy=NO_RETRIES)
    bus.limit_reconnect_backoff(0.2)
    link.fail_open = True
    for _ in range(1500):
        clock.advance(0.2)
        with pytest.raises(LinkError):
            await bus.read(1, HR, 0, 1)
    link.fail_open = False
    clock.advance(0.2)
    assert await bus.read(1, HR, 0, 1) == [11]
