"""PowerLogic CM2000/CM3000/CM4000/PM800 end to end: polls, commands and energy transfer over Modbus TCP and RTU.

Register numbers in these tests are the 1-based numbers of Schneider's lists; the
image and the wire use register - 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
import math

import pytest

from powerbus.bus import Bus
from powerbus.commands import run_command
from powerbus.energy_transfer import transfer_energy
from powerbus.errors import (
    CommandFailedError,
    ConfirmationRequiredError,
    DeviceExceptionError,
    WriteValidationError,
)
from powerbus.identify import identify
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Table
from powerbus.poller import Poller
from powerbus.profile import get_profile
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.device import SimulatedDevice
from powerbus.simulator.faults import Fault, Request, Verdict
from powerbus.simulator.powerlogic import PowerLogicBehaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

UNIT = 1
OLD_UNIT = 2
NEW_UNIT = 3
HR = Table.HOLDING_REGISTER
VARIANTS = ["pm800", "pm800_float", "cm3000", "cm3000_float", "cm4000", "cm4000_float", "cm2000"]
ILLEGAL_ADDRESS = 0x02
SERVER_BUSY = 0x06
SETUP_TIMEOUT = 120.0  # two minutes without a write end a setup session (PM800 manual)

# Seed FAQ-002 Table 1: where each energy lies, in the order of the preset buffer 8022-8049.
PM8_ENERGY = {
    "import_active_energy": 1700,
    "import_reactive_energy": 1704,
    "export_active_energy": 1708,
    "export_reactive_energy": 1712,
    "active_energy": 1716,
    "reactive_energy": 1720,
    "apparent_energy": 1724,
}
CM2_ENERGY = {
    "import_active_energy": 1601,
    "import_reactive_energy": 1605,
    "export_active_energy": 1609,
    "export_reactive_energy": 1613,
    "active_energy": 1621,
    "reactive_energy": 1625,
    "apparent_energy": 1617,
}


@dataclass
class Line:
    """A bus to the simulated meters and the simulator serving them."""

    bus: Bus
    simulator: Simulator


Serve = Callable[[Mapping[int, SimulatedDevice]], Awaitable[Line]]


@pytest.fixture(params=["tcp", "rtu"])
async def serve(request: pytest.FixtureRequest) -> AsyncIterator[Serve]:
    """Serve meters over Modbus TCP, or RTU on a virtual serial line, and open a bus to them."""
    serial_ends = request.getfixturevalue("serial_pair") if request.param == "rtu" else None
    async with AsyncExitStack() as stack:

        async def start(devices: Mapping[int, SimulatedDevice]) -> Line:
            simulator = Simulator(devices)
            if serial_ends is None:
                port = await simulator.start_tcp("127.0.0.1", 0)
                settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
            else:
                server_end, client_end = serial_ends
                # A pty carries no parity bit: the line runs 8N1 here.
                await simulator.start_rtu(server_end, baudrate=19200, parity="N")
                settings = LinkSettings(
                    kind=LinkKind.RTU, serial_port=client_end, baudrate=19200, parity="N"
                )
            stack.push_async_callback(simulator.stop)
            bus = Bus(settings)
            await bus.open()
            stack.callback(bus.close)
            return Line(bus=bus, simulator=simulator)

        yield start


def meter(
    variant: str,
    *,
    speed: float = 1.0,
    energy_preset: bool = True,
    clock: ManualClock | None = None,
) -> ProfileDevice:
    """Build a simulated meter of ``variant`` whose values hold still, on ``clock`` if given."""
    behaviour = PowerLogicBehaviour(speed=speed, energy_preset=energy_preset)
    device = ProfileDevice(get_profile(variant), behaviour, clock=clock or ManualClock())
    device.paused = True
    return device


@dataclass(frozen=True, kw_only=True)
class TimePasses(Fault):
    """Lets ``seconds`` pass on the meter's clock before each matching request reaches it."""

    times: int | None = None
    clock: ManualClock
    seconds: float

    def matches(self, request: Request) -> bool:
        """Advance the clock for a matching request; never change its answer."""
        if super().matches(request):
            self.clock.advance(self.seconds)
        return False

    def apply(self, verdict: Verdict) -> Verdict | None:
        """Never called: the fault matches nothing."""
        return None


def behaviour_of(device: ProfileDevice) -> PowerLogicBehaviour:
    """Return the PowerLogic behaviour driving ``device``."""
    assert isinstance(device.behaviour, PowerLogicBehaviour)
    return device.behaviour


def raw(device: ProfileDevice, register: int, count: int = 1) -> list[int]:
    """Return registers from ``register`` on as signed int16, bypassing the wire."""
    return [w - 0x10000 if w & 0x8000 else w for w in device.registers(HR, register - 1, count)]


def put(device: ProfileDevice, register: int, *values: int) -> None:
    """Store signed int16 values from ``register`` on, as the meter itself would."""
    device.set_registers(HR, register - 1, [v & 0xFFFF for v in values])


async def write(bus: Bus, unit: int, register: int, *values: int) -> None:
    """Write registers over the wire, as a third-party master would."""
    await bus.write_registers(unit, register - 1, [v & 0xFFFF for v in values])


async def read(bus: Bus, unit: int, register: int, count: int = 1) -> list[int]:
    """Read registers over the wire as signed int16."""
    words = await bus.read(unit, HR, register - 1, count)
    return [int(w) - 0x10000 if int(w) & 0x8000 else int(w) for w in words]


async def no_wait(_seconds: float) -> None:
    """Skip the pause commands keep for the meter's restart."""
    await asyncio.sleep(0)


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-6)
    return actual == expected


def _mod10_words(value: int) -> list[int]:
    """Four registers of 0..9999, least significant first, carrying the sign of ``value``."""
    sign, magnitude = (-1 if value < 0 else 1), abs(value)
    return [sign * (magnitude // 10_000**i % 10_000) for i in range(4)]


# --- Reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_point_decodes_as_the_meter_holds_it(serve: Serve, variant: str) -> None:
    """A full poll of each variant reads every point as the simulated meter holds it."""
    device = meter(variant)
    line = await serve({UNIT: device})
    profile = get_profile(variant)

    result = await Poller(line.bus, profile, UNIT).poll()

    unavailable = {"frequency_fast"}  # 1080 holds -32768 until 100 ms monitoring is switched on
    for point in profile.points:
        reading = result.readings[point.key]
        if point.key in unavailable:
            assert reading.state is PointState.UNAVAILABLE, point.key
            continue
        assert reading.state is PointState.VALID, (point.key, reading.error)
        assert _same(reading.value, device.get_value(point.key)), point.key


async def test_scale_groups_multiply_by_their_power_of_ten(serve: Serve) -> None:
    """Currents, voltages and powers follow the exponent in 3209, 3212 and 3214."""
    device = meter("pm800")
    put(device, 3209, -1)  # group A: phase currents in 0.1 A
    put(device, 1100, 1234)
    put(device, 3212, 0)  # group D: voltages in 1 V
    put(device, 1120, 401)
    put(device, 3214, 1)  # group F: powers in 10 kW
    put(device, 1143, -52)
    line = await serve({UNIT: device})
    poller = Poller(line.bus, get_profile("pm800"), UNIT)

    first = await poller.poll(keys=["current_l1", "voltage_l1_l2", "active_power"])
    put(device, 3214, -3)  # the same register now counts watts
    second = await poller.poll(keys=["active_power"])

    assert first.value("current_l1") == pytest.approx(123.4)
    assert first.value("voltage_l1_l2") == 401
    assert first.value("active_power") == pytest.approx(-520.0)
    assert second.value("active_power") == pytest.approx(-0.052)


async def test_energies_are_mod10_in_wh(serve: Serve) -> None:
    """1700-1703 = 4567, 123, 0, 0 is 1 234 567 Wh; negative registers make a negative total."""
    device = meter("pm800")
    put(device, 1700, 4567, 123, 0, 0)
    put(device, 1720, -4826, -3613, -1, 0)
    put(device, 1724, 1, 2, 3, 4)
    line = await serve({UNIT: device})

    result = await Poller(line.bus, get_profile("pm800"), UNIT).poll(
        keys=["import_active_energy", "reactive_energy", "apparent_energy"]
    )

    assert result.value("import_active_energy") == 1_234_567
    assert result.value("reactive_energy") == -136_134_826
    assert result.value("apparent_energy") == 4_0003_0002_0001


async def test_cm2000_energies_come_from_1601_in_their_own_order(serve: Serve) -> None:
    """On a CM2000 apparent energy lies at 1617, the signed totals at 1621 and 1625."""
    device = meter("cm2000")
    put(device, 1617, 11, 0, 0, 0)
    put(device, 1621, 22, 0, 0, 0)
    put(device, 1625, -33, 0, 0, 0)
    line = await serve({UNIT: device})

    result = await Poller(line.bus, get_profile("cm2000"), UNIT).poll(
        keys=["apparent_energy", "active_energy", "reactive_energy"]
    )

    assert result.value("apparent_energy") == 11
    assert result.value("active_energy") == 22
    assert result.value("reactive_energy") == -33


async def test_minus_32768_reads_as_not_available(serve: Serve) -> None:
    """A current, the total power factor and the frequency marked -32768 are unavailable."""
    device = meter("pm800")
    put(device, 1102, -32768)
    put(device, 1163, -32768)
    put(device, 1180, -32768)
    line = await serve({UNIT: device})

    result = await Poller(line.bus, get_profile("pm800"), UNIT).poll()

    for key in ("current_l3", "power_factor", "frequency"):
        assert result.readings[key].state is PointState.UNAVAILABLE, key
    assert result.readings["current_l1"].state is PointState.VALID


async def test_power_factor_sign_tells_lagging_from_leading(serve: Serve) -> None:
    """Bit 15 set means lagging (-31794 is 0.974 lagging); plain magnitudes are leading."""
    device = meter("pm800")
    put(device, 1160, -31794, 1000, 950)
    line = await serve({UNIT: device})

    result = await Poller(line.bus, get_profile("pm800"), UNIT).poll(
        keys=["power_factor_l1", "power_factor_l2", "power_factor_l3"]
    )

    assert result.value("power_factor_l1") == pytest.approx(0.974)
    assert result.value("power_factor_l2") == pytest.approx(1.0)
    assert result.value("power_factor_l3") == pytest.approx(-0.95)


async def test_frequency_counts_hundredths_of_a_hertz(serve: Serve) -> None:
    """1180 = 4998 is 49.98 Hz, with no scale group."""
    device = meter("cm3000")
    put(device, 1180, 4998)
    line = await serve({UNIT: device})

    result = await Poller(line.bus, get_profile("cm3000"), UNIT).poll(keys=["frequency"])

    assert result.value("frequency") == pytest.approx(49.98)


async def test_pm800_firmware_identifies(serve: Serve) -> None:
    """7001 = 11900 is firmware 11.900."""
    line = await serve({UNIT: meter("pm800")})

    identity = await identify(line.bus, UNIT, get_profile("pm800"))

    assert identity.firmware is not None and float(identity.firmware) == pytest.approx(11.9)


async def test_running_meter_counts_energy_up(serve: Serve) -> None:
    """Between two polls of a running meter the energy counters grow."""
    clock = ManualClock()
    device = meter("pm800", speed=3600.0, clock=clock)
    device.paused = False
    line = await serve({UNIT: device})
    poller = Poller(line.bus, get_profile("pm800"), UNIT)

    first = await poller.poll(keys=["import_active_energy", "apparent_energy"])
    clock.advance(1.0)  # at 3600 times real speed: an hour
    second = await poller.poll(keys=["import_active_energy", "apparent_energy"])

    for key in ("import_active_energy", "apparent_energy"):
        before, after = first.value(key), second.value(key)
        assert isinstance(before, int) and isinstance(after, int)
        assert after > before, key


# --- Setup commands ------------------------------------------------------------------------


async def test_min_max_reset_becomes_manual(serve: Serve) -> None:
    """The PM800 command runs a whole setup session and 1443 reads 0 afterwards."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    assert device.get_value("min_max_monthly_rollover") is True

    result = await run_command(
        line.bus,
        get_profile("pm800"),
        UNIT,
        "set_min_max_reset_manual",
        confirm=True,
        sleep=no_wait,
    )

    assert result.outcome == "done"
    assert raw(device, 1443) == [0]
    assert behaviour_of(device).events == ["setup opened", "setup saved", "restart"]


async def test_cm3000_keeps_peak_demand_over_the_month(serve: Serve) -> None:
    """6426 goes from 3 (reset power and input demand monthly) to 0."""
    device = meter("cm3000")
    line = await serve({UNIT: device})
    assert device.get_value("peak_demand_monthly_reset") == "power_and_input_metering"

    await run_command(
        line.bus,
        get_profile("cm3000"),
        UNIT,
        "disable_monthly_peak_demand_reset",
        confirm=True,
        sleep=no_wait,
    )

    assert device.get_value("peak_demand_monthly_reset") == "disabled"


async def test_cm4000_fast_frequency_appears_in_1080(serve: Serve) -> None:
    """After 11 is saved to 3239, 1080 holds the frequency in 0.01 Hz."""
    device = meter("cm4000")
    line = await serve({UNIT: device})
    profile = get_profile("cm4000")
    poller = Poller(line.bus, profile, UNIT)
    before = await poller.poll(keys=["frequency_fast"])

    await run_command(line.bus, profile, UNIT, "enable_fast_frequency", confirm=True, sleep=no_wait)
    after = await poller.poll(keys=["frequency_fast", "frequency"])

    assert before.readings["frequency_fast"].state is PointState.UNAVAILABLE
    assert raw(device, 3239) == [11]
    assert after.value("frequency_fast") == pytest.approx(after.value("frequency"), abs=0.011)


async def test_pm800_float_registers_appear_after_the_setup_session(serve: Serve) -> None:
    """Floats at 11700 are refused until enabled, then agree with the integer registers."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    floats = Poller(line.bus, get_profile("pm800_float"), UNIT)
    keys = ["current_l1", "voltage_l1_l2", "active_power"]
    with pytest.raises(DeviceExceptionError) as refused:
        await read(line.bus, UNIT, 11700, 2)
    assert refused.value.code == ILLEGAL_ADDRESS

    await run_command(
        line.bus,
        get_profile("pm800"),
        UNIT,
        "enable_float_registers_pm800",
        confirm=True,
        sleep=no_wait,
    )
    as_floats = await floats.poll(keys=keys)
    as_integers = await Poller(line.bus, get_profile("pm800"), UNIT).poll(keys=keys)

    assert raw(device, 3248) == [1]
    assert as_floats.value("current_l1") == pytest.approx(as_integers.value("current_l1"), abs=0.05)
    assert as_floats.value("voltage_l1_l2") == pytest.approx(
        as_integers.value("voltage_l1_l2"), abs=0.05
    )
    integer_kw = as_integers.value("active_power")
    assert isinstance(integer_kw, float)
    assert as_floats.value("active_power") == pytest.approx(integer_kw * 1000, abs=5.0)


@pytest.mark.parametrize(
    ("variant", "float_variant"), [("cm3000", "cm3000_float"), ("cm4000", "cm4000_float")]
)
async def test_cm_float_registers_need_only_a_write(
    serve: Serve, variant: str, float_variant: str
) -> None:
    """On a CM3000/CM4000 writing 1 to 3248 makes the block at 57600 readable at once."""
    device = meter(variant)
    line = await serve({UNIT: device})

    result = await run_command(line.bus, get_profile(variant), UNIT, "enable_float_registers_cm")
    floats = await Poller(line.bus, get_profile(float_variant), UNIT).poll(
        keys=["current_l1", "frequency"]
    )

    assert result.writes == 1
    assert behaviour_of(device).restarts == 0
    assert floats.value("current_l1") == pytest.approx(device.get_value("current_l1"), abs=0.5)
    assert floats.value("frequency") == pytest.approx(device.get_value("frequency"), abs=0.006)


async def test_soft_reset_needs_confirmation_and_restarts(serve: Serve) -> None:
    """9020 then 1110 restarts the meter; without confirmation nothing is sent."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    profile = get_profile("pm800")
    requests = line.bus.stats(UNIT).requests

    with pytest.raises(ConfirmationRequiredError):
        await run_command(line.bus, profile, UNIT, "soft_reset")
    assert line.bus.stats(UNIT).requests == requests
    await run_command(line.bus, profile, UNIT, "soft_reset", confirm=True)

    assert behaviour_of(device).restarts == 1
    assert behaviour_of(device).events == ["setup opened", "setup discarded", "restart"]


async def test_setup_registers_refuse_writes_outside_a_session(serve: Serve) -> None:
    """Writing 1443 without 9020 first is refused and changes nothing."""
    device = meter("pm800")
    line = await serve({UNIT: device})

    with pytest.raises(DeviceExceptionError) as refused:
        await write(line.bus, UNIT, 1443, 0)

    assert refused.value.code == ILLEGAL_ADDRESS
    assert raw(device, 1443) == [1]


async def test_closing_without_the_save_flag_discards(serve: Serve) -> None:
    """9021 with 8001 not 1 ends the session and keeps the old setting."""
    device = meter("pm800")
    line = await serve({UNIT: device})

    await write(line.bus, UNIT, 8000, 9020)
    await write(line.bus, UNIT, 1443, 0)
    await write(line.bus, UNIT, 8001, 0)
    await write(line.bus, UNIT, 8000, 9021)

    assert raw(device, 1443) == [1]
    assert behaviour_of(device).events == ["setup opened", "setup discarded", "restart"]


async def test_setup_session_times_out_without_saving(serve: Serve) -> None:
    """After two minutes without a write the staged change is lost and the session is gone."""
    clock = ManualClock()
    device = meter("pm800", clock=clock)
    line = await serve({UNIT: device})

    await write(line.bus, UNIT, 8000, 9020)
    await write(line.bus, UNIT, 1443, 0)
    clock.advance(SETUP_TIMEOUT + 1)
    await write(line.bus, UNIT, 8017, 8020, 8021, 8022)
    await write(line.bus, UNIT, 8001, 1)
    await write(line.bus, UNIT, 8000, 9021)

    assert raw(device, 1443) == [1]
    assert await read(line.bus, UNIT, 8021) == [81]  # nothing to close any more
    assert "setup timed out" in behaviour_of(device).events
    with pytest.raises(DeviceExceptionError):
        await write(line.bus, UNIT, 1443, 0)


async def test_command_fails_when_its_session_times_out(serve: Serve) -> None:
    """A meter slow enough for the session to lapse mid-command: the read-back reports it."""
    clock = ManualClock()
    device = meter("pm800", clock=clock)
    line = await serve({UNIT: device})
    # The save flag (register 8001, PDU 8000) arrives only after the session has lapsed.
    line.simulator.faults.add(
        TimePasses(
            clock=clock, seconds=SETUP_TIMEOUT + 1, unit_id=UNIT, addresses=range(8000, 8001)
        )
    )

    with pytest.raises(CommandFailedError) as failed:
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "set_min_max_reset_manual",
            confirm=True,
            sleep=no_wait,
        )

    assert failed.value.outcome == "readback_mismatch"
    assert raw(device, 1443) == [1]


async def test_engine_runs_setup_commands_one_after_the_other(serve: Serve) -> None:
    """Two setup commands started together never have two sessions open at once."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    profile = get_profile("pm800")

    await asyncio.gather(
        run_command(
            line.bus, profile, UNIT, "set_min_max_reset_manual", confirm=True, sleep=no_wait
        ),
        run_command(
            line.bus, profile, UNIT, "enable_float_registers_pm800", confirm=True, sleep=no_wait
        ),
    )

    session = ["setup opened", "setup saved", "restart"]
    assert behaviour_of(device).events == session + session
    assert raw(device, 1443) == [0]
    assert raw(device, 3248) == [1]


async def test_a_session_opened_elsewhere_makes_the_meter_busy(serve: Serve) -> None:
    """While another master holds the setup session, a second 9020 is refused as busy."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    await write(line.bus, UNIT, 8000, 9020)

    with pytest.raises(DeviceExceptionError) as refused:
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "set_min_max_reset_manual",
            confirm=True,
            sleep=no_wait,
        )

    assert refused.value.code == SERVER_BUSY
    assert raw(device, 1443) == [1]


# --- EN50160 pass/fail limits --------------------------------------------------------------

EN50160_VARIANTS = ["pm800", "pm800_float", "cm3000", "cm3000_float", "cm4000", "cm4000_float"]
LIMITS = 3900  # first of the 51 limit registers 3900-3950
LIMIT_COUNT = 51
DISABLED = -32768


@pytest.mark.parametrize("variant", ["pm800", "cm3000", "cm4000"])
async def test_en50160_limit_is_saved_and_read_back(serve: Serve, variant: str) -> None:
    """A limit goes to its register in a saved setup session, reads back, and outlives a restart."""
    device = meter(variant)
    line = await serve({UNIT: device})
    profile = get_profile(variant)
    assert raw(device, LIMITS, LIMIT_COUNT) == [DISABLED] * LIMIT_COUNT

    result = await run_command(
        line.bus,
        profile,
        UNIT,
        "set_en50160_limit",
        {"register": 3917, "value": 250},
        confirm=True,
        sleep=no_wait,
    )
    await run_command(line.bus, profile, UNIT, "soft_reset", confirm=True)

    assert result.outcome == "done"
    assert list(result.readback.values()) == [250]
    assert await read(line.bus, UNIT, 3917) == [250]
    assert raw(device, LIMITS, LIMIT_COUNT) == [DISABLED] * 17 + [250] + [DISABLED] * 33
    assert behaviour_of(device).events == [
        "setup opened",
        "setup saved",
        "restart",
        "setup opened",
        "setup discarded",
        "restart",
    ]


@pytest.mark.parametrize("register", [3900, 3950])
async def test_en50160_limit_reaches_both_ends_of_the_range(serve: Serve, register: int) -> None:
    """The first and the last limit register take a value (0 is a valid limit)."""
    device = meter("pm800")
    line = await serve({UNIT: device})

    await run_command(
        line.bus,
        get_profile("pm800"),
        UNIT,
        "set_en50160_limit",
        {"register": register, "value": 0},
        confirm=True,
        sleep=no_wait,
    )

    assert raw(device, register) == [0]
    assert raw(device, LIMITS, LIMIT_COUNT).count(DISABLED) == LIMIT_COUNT - 1


@pytest.mark.parametrize("disabled", [DISABLED, "disabled"])
async def test_en50160_limit_is_disabled_again(serve: Serve, disabled: int | str) -> None:
    """-32768 (or its name) puts a limit back to 'test disabled'."""
    device = meter("cm4000")
    put(device, 3905, 1200)
    line = await serve({UNIT: device})

    result = await run_command(
        line.bus,
        get_profile("cm4000"),
        UNIT,
        "set_en50160_limit",
        {"register": 3905, "value": disabled},
        confirm=True,
        sleep=no_wait,
    )

    assert result.outcome == "done"
    assert raw(device, 3905) == [DISABLED]
    assert await read(line.bus, UNIT, 3905) == [DISABLED]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"register": 3899, "value": 10}, "register"),
        ({"register": 3951, "value": 10}, "register"),
        ({"register": 3910, "value": 40_000}, "value"),
        ({"register": 3910, "value": -5}, "value"),
        ({"register": 3910.5, "value": 10}, "register"),
        ({"register": 3910, "value": "off"}, "value"),
    ],
    ids=["3899", "3951", "40000", "-5", "fraction", "unknown name"],
)
async def test_invalid_en50160_limit_writes_nothing(
    serve: Serve, params: dict[str, object], named: str
) -> None:
    """A register outside 3900-3950 or a value outside 0..32767/-32768 is refused before any request."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    requests = line.bus.stats(UNIT).requests
    limits, command_area = raw(device, LIMITS, LIMIT_COUNT), raw(device, 8000, 150)

    with pytest.raises(WriteValidationError, match=f"parameter '{named}'"):
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "set_en50160_limit",
            params,
            confirm=True,
            sleep=no_wait,
        )

    assert line.bus.stats(UNIT).requests == requests
    assert raw(device, LIMITS, LIMIT_COUNT) == limits
    assert raw(device, 8000, 150) == command_area
    assert behaviour_of(device).events == []


async def test_en50160_limit_needs_confirmation(serve: Serve) -> None:
    """The meter restarts when the limit is saved, so nothing is sent without confirmation."""
    device = meter("cm3000")
    line = await serve({UNIT: device})
    requests = line.bus.stats(UNIT).requests
    command_area = raw(device, 8000, 150)

    with pytest.raises(ConfirmationRequiredError):
        await run_command(
            line.bus,
            get_profile("cm3000"),
            UNIT,
            "set_en50160_limit",
            {"register": 3910, "value": 10},
            sleep=no_wait,
        )

    assert line.bus.stats(UNIT).requests == requests
    assert raw(device, LIMITS, LIMIT_COUNT) == [DISABLED] * LIMIT_COUNT
    assert raw(device, 8000, 150) == command_area


async def test_en50160_limits_change_only_in_a_saved_session(serve: Serve) -> None:
    """Outside a session a limit write is refused; a session closed without the save flag drops it."""
    device = meter("pm800")
    line = await serve({UNIT: device})

    with pytest.raises(DeviceExceptionError) as refused:
        await write(line.bus, UNIT, 3910, 10)
    await write(line.bus, UNIT, 8000, 9020)
    await write(line.bus, UNIT, 3910, 10)
    await write(line.bus, UNIT, 8001, 0)
    await write(line.bus, UNIT, 8000, 9021)

    assert refused.value.code == ILLEGAL_ADDRESS
    assert await read(line.bus, UNIT, 3910) == [DISABLED]


async def test_en50160_limit_is_lost_when_the_session_times_out(serve: Serve) -> None:
    """A limit staged in a session that lapses before 9021 never reaches the register."""
    clock = ManualClock()
    device = meter("cm4000", clock=clock)
    line = await serve({UNIT: device})

    await write(line.bus, UNIT, 8000, 9020)
    await write(line.bus, UNIT, 3930, 75)
    clock.advance(SETUP_TIMEOUT + 1)
    await write(line.bus, UNIT, 8001, 1)
    await write(line.bus, UNIT, 8000, 9021)

    assert await read(line.bus, UNIT, 3930) == [DISABLED]
    assert "setup timed out" in behaviour_of(device).events


def test_en50160_limits_are_offered_except_on_the_cm2000() -> None:
    """Every CM3000/CM4000/PM800 variant offers the dangerous setup command; the CM2000 does not."""
    for variant in EN50160_VARIANTS:
        command = get_profile(variant).command("set_en50160_limit")
        assert command.dangerous, variant
        assert command.session == "setup", variant
    with pytest.raises(KeyError):
        get_profile("cm2000").command("set_en50160_limit")


# --- Energy preset: the meter's own answers ------------------------------------------------


async def test_preset_command_sets_every_energy(serve: Serve) -> None:
    """The profile command writes buffer and pointers, runs 6209 and 8021 reads 0."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    values = [
        value for i in range(7) for value in _mod10_words(-(10**9 + i) if i == 5 else 10**9 + i)
    ]

    result = await run_command(
        line.bus, get_profile("pm800"), UNIT, "preset_energies", {"values": values}, confirm=True
    )

    assert result.outcome == "done"
    assert raw(device, 1700, 28) == values
    assert raw(device, 8017, 3) == [8020, 8021, 8022]
    assert device.get_value("reactive_energy") == -(10**9 + 5)


async def test_meter_reports_82_for_a_value_out_of_range(serve: Serve) -> None:
    """Following the FAQ by hand with 10000 in the buffer: 8021 reads 82 and nothing changes."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    before = raw(device, 1700, 28)
    buffer = [0] * 28
    buffer[9] = 10_000

    await write(line.bus, UNIT, 8022, *buffer)
    await write(line.bus, UNIT, 8017, 8020)
    await write(line.bus, UNIT, 8018, 8021)
    await write(line.bus, UNIT, 8019, 8022)
    await write(line.bus, UNIT, 8000, 6209)

    assert await read(line.bus, UNIT, 8021) == [82]
    assert raw(device, 1700, 28) == before


async def test_meter_reports_81_for_an_unknown_command(serve: Serve) -> None:
    """A code the meter does not know leaves 81 in the results register."""
    line = await serve({UNIT: meter("cm4000")})

    await write(line.bus, UNIT, 8017, 8020, 8021, 8022)
    await write(line.bus, UNIT, 8000, 6208)

    assert await read(line.bus, UNIT, 8021) == [81]


async def test_firmware_without_preset_ends_the_command_as_invalid(serve: Serve) -> None:
    """A meter answering 81 to 6209 makes the command fail as invalid_command, counters untouched."""
    device = meter("pm800", energy_preset=False)
    line = await serve({UNIT: device})
    before = raw(device, 1700, 28)

    with pytest.raises(CommandFailedError) as failed:
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "preset_energies",
            {"values": [1] * 28},
            confirm=True,
        )

    assert failed.value.outcome == "invalid_command"
    assert raw(device, 1700, 28) == before


class GarbledBuffer:
    """A meter behind a line that damages one register of every buffer block write."""

    def __init__(self, device: ProfileDevice) -> None:
        """Wrap ``device``."""
        self.device = device

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Read from the meter unchanged."""
        return self.device.read(table, address, count)

    def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
        """Put 10000 into the sixth buffer register on its way to the meter."""
        words = [int(v) for v in values]
        if address == 8022 - 1 and len(words) == 28:
            words[5] = 10_000
        self.device.write(table, address, words)


async def test_meter_answer_82_ends_the_command_as_invalid_parameters(serve: Serve) -> None:
    """When the meter reports 82 the command fails as invalid_parameters and nothing is preset."""
    device = meter("pm800")
    line = await serve({UNIT: GarbledBuffer(device)})
    before = raw(device, 1700, 28)

    with pytest.raises(CommandFailedError) as failed:
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "preset_energies",
            {"values": [1] * 28},
            confirm=True,
        )

    assert failed.value.outcome == "invalid_parameters"
    assert raw(device, 1700, 28) == before


@pytest.mark.parametrize(
    "values",
    [
        [0] * 9 + [10_000] + [0] * 18,
        [0] * 27,
        [0] * 29,
        [0.5] + [0] * 27,
    ],
    ids=["10000", "27 values", "29 values", "fraction"],
)
async def test_invalid_preset_writes_nothing(serve: Serve, values: list[float]) -> None:
    """A preset that fails validation sends no request and leaves the meter as it was."""
    device = meter("pm800")
    line = await serve({UNIT: device})
    requests = line.bus.stats(UNIT).requests
    command_area, energies = raw(device, 8000, 150), raw(device, 1700, 28)

    with pytest.raises(WriteValidationError):
        await run_command(
            line.bus,
            get_profile("pm800"),
            UNIT,
            "preset_energies",
            {"values": values},
            confirm=True,
        )

    assert line.bus.stats(UNIT).requests == requests
    assert raw(device, 8000, 150) == command_area
    assert raw(device, 1700, 28) == energies


# --- Energy transfer to a replacement meter ------------------------------------------------


def _set_energies(
    device: ProfileDevice, layout: Mapping[str, int], values: Mapping[str, int]
) -> None:
    """Store each energy as MOD10 registers at the register ``layout`` gives it."""
    for key, register in layout.items():
        put(device, register, *_mod10_words(values[key]))


DISTINCT = {
    "import_active_energy": 1_234_5678_9012,
    "import_reactive_energy": 2_0001_0002,
    "export_active_energy": 3_0003,
    "export_reactive_energy": 4_0004_0004,
    "active_energy": 1_234_5675_9009,
    "reactive_energy": -2_0003_0002,
    "apparent_energy": 7_0007_0007_0007,
}


async def test_transfer_from_cm2000_to_pm800_reorders(serve: Serve) -> None:
    """The CM2000's 1601-1628 arrive at the PM800's 1700-1727 in Table 1's order."""
    old, new = meter("cm2000"), meter("pm800")
    _set_energies(old, CM2_ENERGY, DISTINCT)
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})
    expected = [word for key in PM8_ENERGY for word in raw(old, CM2_ENERGY[key], 4)]

    result = await transfer_energy(
        line.bus,
        get_profile("pm800"),
        NEW_UNIT,
        source=get_profile("cm2000"),
        source_unit=OLD_UNIT,
        confirm=True,
    )

    assert list(result.written) == expected
    assert raw(new, 1700, 28) == expected
    for key, value in DISTINCT.items():
        assert new.get_value(key) == value, key
        assert result.quantity(key).read_back == value
        assert result.quantity(key).delta == 0
    assert result.command.outcome == "done"


async def test_transfer_from_pm800_to_pm800(serve: Serve) -> None:
    """Between two PM800s the registers go over one to one."""
    old, new = meter("pm800"), meter("pm800")
    _set_energies(old, PM8_ENERGY, DISTINCT)
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})

    result = await transfer_energy(
        line.bus,
        get_profile("pm800"),
        NEW_UNIT,
        source=get_profile("pm800"),
        source_unit=OLD_UNIT,
        confirm=True,
    )

    assert raw(new, 1700, 28) == raw(old, 1700, 28)
    assert list(result.read_back) == raw(old, 1700, 28)


async def test_transfer_to_a_cm2000_lands_in_its_own_layout(serve: Serve) -> None:
    """A CM2000 as the new meter takes the buffer in 1700 order and keeps its 1601 layout."""
    old, new = meter("pm800"), meter("cm2000")
    _set_energies(old, PM8_ENERGY, DISTINCT)
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})

    await transfer_energy(
        line.bus,
        get_profile("cm2000"),
        NEW_UNIT,
        source=get_profile("pm800"),
        source_unit=OLD_UNIT,
        confirm=True,
    )

    for key, register in CM2_ENERGY.items():
        assert raw(new, register, 4) == raw(old, PM8_ENERGY[key], 4), key


async def test_transfer_from_noted_readings_of_a_dead_cm2000(serve: Serve) -> None:
    """Readings noted from a CM2000 (1601-1628 order) are reordered before the preset."""
    new = meter("pm800")
    line = await serve({NEW_UNIT: new})
    noted = [word for register in range(1601, 1629, 4) for word in _mod10_words(register)]

    await transfer_energy(
        line.bus,
        get_profile("pm800"),
        NEW_UNIT,
        source=get_profile("cm2000"),
        registers=noted,
        confirm=True,
    )

    for key, register in CM2_ENERGY.items():
        assert new.get_value(key) == register, key


async def test_transfer_accepts_a_new_meter_that_counts_on(serve: Serve) -> None:
    """A loaded new meter has counted a little since the preset: the check allows it."""
    clock = ManualClock()
    old, new = meter("pm800"), meter("pm800", speed=3600.0, clock=clock)
    new.paused = False
    _set_energies(old, PM8_ENERGY, DISTINCT)
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})
    # Six minutes at this speed pass before the new meter's energies are read back.
    line.simulator.faults.add(
        TimePasses(clock=clock, seconds=0.1, unit_id=NEW_UNIT, addresses=range(1699, 1727))
    )

    result = await transfer_energy(
        line.bus,
        get_profile("pm800"),
        NEW_UNIT,
        source=get_profile("pm800"),
        source_unit=OLD_UNIT,
        confirm=True,
    )

    growth = result.quantity("import_active_energy")
    assert growth.read_back > growth.written == DISTINCT["import_active_energy"]
    assert all(
        0 < result.quantity(key).delta <= 10_000
        for key in ("import_active_energy", "apparent_energy")
    )


async def test_transfer_reports_a_read_back_that_does_not_fit(serve: Serve) -> None:
    """With no room for counting on, a running new meter fails the verification."""
    clock = ManualClock()
    old, new = meter("pm800"), meter("pm800", speed=36_000.0, clock=clock)
    new.paused = False
    _set_energies(old, PM8_ENERGY, DISTINCT)
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})
    # A second (ten hours at this speed) passes before the new meter's energies are read back.
    line.simulator.faults.add(
        TimePasses(clock=clock, seconds=1.0, unit_id=NEW_UNIT, addresses=range(1699, 1727))
    )

    with pytest.raises(CommandFailedError) as failed:
        await transfer_energy(
            line.bus,
            get_profile("pm800"),
            NEW_UNIT,
            source=get_profile("pm800"),
            source_unit=OLD_UNIT,
            confirm=True,
            tolerance=0,
        )

    assert failed.value.outcome == "verification_failed"
    assert "import_active_energy" in str(failed.value)


@pytest.mark.parametrize(
    ("registers", "named"),
    [
        ([0] * 9 + [10_000] + [0] * 18, "value 9 "),
        ([0] * 27, "28 registers"),
        ([0] * 20 + [-10_000] + [0] * 7, "value 20 "),
    ],
    ids=["10000", "27 values", "-10000"],
)
async def test_transfer_validation_writes_nothing(
    serve: Serve, registers: Sequence[int], named: str
) -> None:
    """A bad value or count is named and nothing reaches the new meter."""
    new = meter("pm800")
    line = await serve({NEW_UNIT: new})
    energies, command_area = raw(new, 1700, 28), raw(new, 8000, 150)

    with pytest.raises(WriteValidationError, match=named):
        await transfer_energy(
            line.bus,
            get_profile("pm800"),
            NEW_UNIT,
            source=get_profile("pm800"),
            registers=registers,
            confirm=True,
        )

    assert line.bus.stats(NEW_UNIT).requests == 0
    assert raw(new, 1700, 28) == energies
    assert raw(new, 8000, 150) == command_area


async def test_transfer_refuses_an_old_meter_reporting_not_available(serve: Serve) -> None:
    """-32768 read from the old meter is no MOD10 register: refused before any write."""
    old, new = meter("cm2000"), meter("pm800")
    put(old, 1618, -32768)  # second register of the CM2000's apparent energy
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})
    energies = raw(new, 1700, 28)

    with pytest.raises(WriteValidationError, match="apparent_energy"):
        await transfer_energy(
            line.bus,
            get_profile("pm800"),
            NEW_UNIT,
            source=get_profile("cm2000"),
            source_unit=OLD_UNIT,
            confirm=True,
        )

    assert line.bus.stats(OLD_UNIT).requests > 0
    assert line.bus.stats(NEW_UNIT).requests == 0
    assert raw(new, 1700, 28) == energies


async def test_transfer_needs_confirmation(serve: Serve) -> None:
    """Without confirmation the transfer neither reads nor writes."""
    old, new = meter("pm800"), meter("pm800")
    line = await serve({OLD_UNIT: old, NEW_UNIT: new})

    with pytest.raises(ConfirmationRequiredError):
        await transfer_energy(
            line.bus,
            get_profile("pm800"),
            NEW_UNIT,
            source=get_profile("pm800"),
            source_unit=OLD_UNIT,
        )

    assert line.bus.stats(OLD_UNIT).requests == 0
    assert line.bus.stats(NEW_UNIT).requests == 0


def test_every_variant_offers_the_preset() -> None:
    """Each PowerLogic variant carries the dangerous preset command."""
    for variant in VARIANTS:
        command = get_profile(variant).command("preset_energies")
        assert command.dangerous, variant
        assert command.session == "setup", variant
