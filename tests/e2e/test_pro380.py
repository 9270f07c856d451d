"""PRO380 end to end: the engine polls a simulated meter over Modbus TCP and RTU."""

from __future__ import annotations

from collections.abc import AsyncIterator
import math

import pytest

from powerbus.bus import Bus
from powerbus.commands import run_command
from powerbus.errors import ConfirmationRequiredError, WriteValidationError
from powerbus.identify import detect_profile, identify
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, PollGroup, Profile
from powerbus.poller import Poller
from powerbus.profile import builtin_profiles, get_profile
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.pro380 import Pro380Behaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

UNIT = 1


@pytest.fixture
def profile() -> Profile:
    """Return the current-firmware PRO380 profile."""
    return get_profile("pro380")


@pytest.fixture
def clock() -> ManualClock:
    """Make the simulated meter's clock."""
    return ManualClock()


@pytest.fixture
def meter(profile: Profile, clock: ManualClock) -> ProfileDevice:
    """Simulate a PRO380 whose values hold still, so reads can be compared."""
    device = ProfileDevice(profile, Pro380Behaviour(speed=30), clock=clock)
    device.paused = True
    return device


@pytest.fixture(params=["tcp", "rtu"])
async def bus(request: pytest.FixtureRequest, meter: ProfileDevice) -> AsyncIterator[Bus]:
    """Open a bus to the simulated meter, over Modbus TCP or RTU on a virtual serial pair."""
    simulator = Simulator({UNIT: meter})
    if request.param == "tcp":
        port = await simulator.start_tcp("127.0.0.1", 0)
        settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        # A pty carries no parity bit: the line runs 8N1 here, 8E1 on a real meter.
        await simulator.start_rtu(server_end, baudrate=9600, parity="N", stopbits=1, bytesize=8)
        settings = LinkSettings(
            kind=LinkKind.RTU,
            serial_port=client_end,
            baudrate=9600,
            parity="N",
            stopbits=1,
            bytesize=8,
        )
    async with Bus(settings) as opened:
        yield opened
    await simulator.stop()


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-6)
    return actual == expected


async def test_full_poll_reads_every_point_as_the_meter_holds_it(
    bus: Bus, meter: ProfileDevice, profile: Profile
) -> None:
    """Every point of the full map decodes to the value the simulator encoded."""
    result = await Poller(bus, profile, UNIT).poll()

    assert result.available
    assert len(result.blocks) == 3
    for point in profile.points:
        reading = result.readings[point.key]
        assert reading.state is PointState.VALID, (point.key, reading.error)
        assert _same(reading.value, meter.get_value(point.key)), point.key
    assert result.value("serial_number") == "22091039"
    assert result.value("combination_code") == "forward"


async def test_export_shows_as_negative_power_and_reverse_direction(
    bus: Bus, meter: ProfileDevice, profile: Profile
) -> None:
    """A phase that exports reads negative current and power and direction 'R'."""
    meter.set_value("current_l2", -7.5)
    meter.set_value("active_power_l2", -1.62)
    meter.set_value("direction_l2", "2R")

    result = await Poller(bus, profile, UNIT).poll([PollGroup.FAST, PollGroup.NORMAL])

    assert result.value("current_l2") == pytest.approx(-7.5)
    assert result.value("active_power_l2") == pytest.approx(-1.62)
    assert result.value("direction_l2") == "2R"


async def test_moving_meter_counts_energy_up(
    bus: Bus, meter: ProfileDevice, profile: Profile, clock: ManualClock
) -> None:
    """Between two polls of a running meter the import counter grows and never falls."""
    meter.paused = False
    poller = Poller(bus, profile, UNIT)
    first = await poller.poll([PollGroup.NORMAL])
    clock.advance(120)  # at 30 times real speed: an hour
    second = await poller.poll([PollGroup.NORMAL])

    before, after = first.value("import_active_energy"), second.value("import_active_energy")
    assert isinstance(before, float) and isinstance(after, float)
    assert after > before


async def test_detects_current_firmware_and_reads_identity(bus: Bus, profile: Profile) -> None:
    """Auto-detection picks the current-firmware profile and identity gives serial and firmware."""
    found = await detect_profile(bus, UNIT, builtin_profiles().values())

    assert found is not None and found.key == "pro380"
    identity = await identify(bus, UNIT, found)
    assert identity.serial == "22091039"
    assert identity.firmware is not None and float(identity.firmware) == pytest.approx(2.18)


async def test_tariff_command_switches_and_reads_back(
    bus: Bus, meter: ProfileDevice, profile: Profile
) -> None:
    """The tariff command writes the register and confirms it by reading back."""
    result = await run_command(bus, profile, UNIT, "set_tariff", {"tariff": "t2"})

    assert result.outcome == "done"
    assert result.writes == 1
    assert meter.get_value("tariff") == "t2"


async def test_day_counter_reset_needs_confirmation(
    bus: Bus, meter: ProfileDevice, profile: Profile
) -> None:
    """The dangerous reset writes nothing without confirmation and resets with it."""
    before = meter.get_value("day_counter_energy")
    requests = bus.stats(UNIT).requests

    with pytest.raises(ConfirmationRequiredError):
        await run_command(bus, profile, UNIT, "reset_day_counter")
    assert bus.stats(UNIT).requests == requests
    assert meter.get_value("day_counter_energy") == before

    await run_command(bus, profile, UNIT, "reset_day_counter", confirm=True)
    assert meter.get_value("day_counter_energy") == 0.0


@pytest.mark.parametrize(
    ("command", "params"),
    [
        ("set_lcd_cycle_time", {"seconds": 31}),
        ("set_lcd_cycle_time", {"seconds": 2.5}),
        ("set_tariff", {"tariff": "t3"}),
        ("set_modbus_id", {"modbus_id": 0}),
        ("set_s0_rate", {"rate": "fast"}),
        ("set_lcd_cycle_time", {"second": 5}),
    ],
)
async def test_invalid_command_writes_nothing(
    bus: Bus, meter: ProfileDevice, profile: Profile, command: str, params: dict[str, object]
) -> None:
    """A command that fails validation sends no request at all."""
    requests = bus.stats(UNIT).requests
    image = meter.registers(profile.point("lcd_cycle_time").table, 0x4000, 32)

    with pytest.raises(WriteValidationError):
        await run_command(bus, profile, UNIT, command, params, confirm=True)

    assert bus.stats(UNIT).requests == requests
    assert meter.registers(profile.point("lcd_cycle_time").table, 0x4000, 32) == image


async def test_lcd_cycle_time_is_written_as_bcd(
    bus: Bus, meter: ProfileDevice, profile: Profile
) -> None:
    """25 s goes on the wire as 0x0025, the meter's BCD-like format."""
    await run_command(bus, profile, UNIT, "set_lcd_cycle_time", {"seconds": 25})

    assert meter.registers(profile.point("lcd_cycle_time").table, 0x4010, 1) == [0x0025]


async def test_statistics_count_requests_and_bytes(bus: Bus, profile: Profile) -> None:
    """A full poll costs three requests and the bytes of their frames."""
    await Poller(bus, profile, UNIT).poll()

    stats = bus.stats(UNIT)
    assert stats.requests == 3
    assert stats.responses == 3
    assert stats.timeouts == 0
    data_registers = 32 + 50 + 75
    assert stats.bytes_received >= 2 * data_registers
    assert stats.latency_max > 0
