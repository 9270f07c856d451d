"""Liebert UPS and DS end to end: the engine polls and commands simulated units over TCP and RTU."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
import math

import pytest

from powerbus import ups
from powerbus.bus import Bus
from powerbus.commands import run_command
from powerbus.errors import ConfirmationRequiredError, DeviceExceptionError, WriteValidationError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Point, PointState, Profile, Table, Value
from powerbus.poller import Poller, PollResult
from powerbus.profile import get_profile, with_limits
from powerbus.simulator.behaviours import behaviour_for
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.liebert import SCENARIO_OUTAGE_START, BatteryTestResult, LiebertUpsBehaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

UNIT = 2
RTU_BAUDRATE = 38400
UPS_VARIANTS = (
    "liebert_gxt2",
    "liebert_nx",
    "liebert_psi",
    "liebert_psi2",
    "liebert_series600",
    "liebert_series300",
)
COMMAND_VARIANTS = ("liebert_series600", "liebert_series300")
HR = Table.HOLDING_REGISTER
COMMAND_REGISTERS = (100, 13)  # 40101..40113 as (PDU start, count)
STATUS_KEYS = (
    *ups.STATUS_FLAGS,
    ups.BATTERY_CHARGE_STATUS,
    ups.BATTERY_TEST_RESULT,
    ups.BATTERY_CHARGE,
    ups.BATTERY_RUNTIME,
    ups.BATTERY_CURRENT,
    ups.LOAD,
    ups.BLACKOUT_COUNT,
    ups.BROWNOUT_COUNT,
    ups.phase_key(ups.OUTPUT_VOLTAGE, 1),
)


@pytest.fixture
def variant() -> str:
    """Name the profile variant a test runs on, unless the test names its own."""
    return "liebert_series600"


@pytest.fixture(params=["tcp", "rtu"])
def transport(request: pytest.FixtureRequest) -> str:
    """Run over Modbus TCP, or RTU over a virtual serial pair."""
    return str(request.param)


@pytest.fixture
def profile(variant: str) -> Profile:
    """Load the shipped profile of the variant, without the pause it keeps between requests."""
    return with_limits(get_profile(variant), min_spacing=0.0)


@pytest.fixture
def clock() -> ManualClock:
    """Make the simulated unit's clock."""
    return ManualClock()


@pytest.fixture
def unit_device(profile: Profile, clock: ManualClock) -> ProfileDevice:
    """Build the simulated unit, driven by the behaviour its family registers."""
    return ProfileDevice(profile, behaviour_for(profile), clock=clock)


@pytest.fixture
def behaviour(unit_device: ProfileDevice) -> LiebertUpsBehaviour:
    """Return the UPS state machine behind the simulated unit."""
    assert isinstance(unit_device.behaviour, LiebertUpsBehaviour)
    return unit_device.behaviour


@pytest.fixture
async def bus(
    request: pytest.FixtureRequest, transport: str, unit_device: ProfileDevice
) -> AsyncIterator[Bus]:
    """Open a bus to the simulated unit over the transport under test."""
    simulator = Simulator({UNIT: unit_device})
    if transport == "tcp":
        port = await simulator.start_tcp("127.0.0.1", 0)
        settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        await simulator.start_rtu(
            server_end, baudrate=RTU_BAUDRATE, parity="N", stopbits=1, bytesize=8
        )
        settings = LinkSettings(
            kind=LinkKind.RTU,
            serial_port=client_end,
            baudrate=RTU_BAUDRATE,
            parity="N",
            stopbits=1,
            bytesize=8,
        )
    async with Bus(settings) as opened:
        yield opened
    await simulator.stop()


# --- Helpers --------------------------------------------------------------------------------------
def _distinct_values(profile: Profile) -> dict[str, Value]:
    """Choose a value for every point from its address, so that neighbours differ."""
    values: dict[str, Value] = {}
    for index, point in enumerate(profile.points):
        values[point.key] = _distinct_value(point, index)
    return values


def _distinct_value(point: Point, index: int) -> Value:
    """Choose one point's value in user units, exercising its type, sign and scale."""
    if point.table.is_bit:
        return (point.address + index) % 3 != 0
    if point.options:
        labels = list(dict.fromkeys(point.options.values()))
        return labels[point.address % len(labels)]
    if point.bit_field is not None:
        low, high = point.bit_field
        return (point.address + low) % (1 << (high - low + 1)) or 1
    if point.count == 2:
        raw = 70_000 + point.address
    elif point.data_type.value == "s16":
        raw = -1 - point.address % 40
    else:
        raw = 100 + point.address % 900
    return round(raw * point.scale, 10) if point.scale != 1 else raw


def _store(device: ProfileDevice, values: dict[str, Value]) -> None:
    """Put the values into the simulated unit, packing bit fields that share a register."""
    packed: dict[tuple[Table, int], int] = {}
    for key, value in values.items():
        point = device.profile.point(key)
        if point.bit_field is None:
            device.set_value(key, value)
        else:
            assert isinstance(value, int)
            where = (point.table, point.address)
            packed[where] = packed.get(where, 0) | value << point.bit_field[0]
    for (table, address), word in packed.items():
        device.set_registers(table, address, [word])


def _same(actual: object, expected: object) -> bool:
    """Equal, with float tolerance."""
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected and type(actual) is type(expected)


async def _status(bus: Bus, profile: Profile) -> tuple[PollResult, ups.UpsStatus]:
    """Poll the status points and derive the NUT status from what was read."""
    keys = [key for key in STATUS_KEYS if profile.has_point(key)]
    result = await Poller(bus, profile, UNIT).poll(keys=keys)
    values = {key: result.value(key) for key in keys}
    return result, ups.derive_status(values, extra_alarms=ups.problem_flags(profile))


def _image(device: ProfileDevice) -> list[list[int]]:
    """Every readable register and bit of the unit, plus its command registers."""
    areas = [
        (area.table, area.start, area.end - area.start + 1)
        for area in device.profile.limits.readable
    ]
    areas.append((HR, *COMMAND_REGISTERS))
    return [device.registers(table, start, count) for table, start, count in areas]


# --- The register maps ----------------------------------------------------------------------------
# Numbers as the OpenComms-485 guide (rev. 5) prints them for each model; a test of the profile
# against its source, independent of the simulator.
GUIDE_NUMBERS: Sequence[tuple[str, str, int]] = (
    *((variant, "on_battery", 10128) for variant in UPS_VARIANTS),
    *((variant, "shutdown_imminent", 10152) for variant in UPS_VARIANTS),
    *((variant, "output_overload", 10154) for variant in UPS_VARIANTS),
    *((variant, "input_fail", 10186) for variant in UPS_VARIANTS),
    *((variant, "battery_charge_status", 30112) for variant in UPS_VARIANTS),
    *((variant, "battery_runtime", 30115) for variant in UPS_VARIANTS),
    *((variant, "battery_charge", 30116) for variant in UPS_VARIANTS),
    *((variant, "battery_test_result", 30130) for variant in UPS_VARIANTS),
    ("liebert_nx", "economode", 10005),
    ("liebert_nx", "on_inverter", 10073),
    ("liebert_nx", "on_bypass", 10074),
    ("liebert_nx", "battery_under_test", 10082),
    ("liebert_nx", "output_is_off", 10158),
    ("liebert_nx", "fan_fail", 10169),
    ("liebert_nx", "charger_failed", 10234),
    ("liebert_nx", "rectifier_current_limit", 10260),
    ("liebert_nx", "battery_current", 30114),
    ("liebert_nx", "battery_temperature", 30117),
    ("liebert_nx", "output_power_l3", 30272),
    ("liebert_nx", "output_current_crest_factor_l3", 30286),
    ("liebert_psi", "automatic_battery_test_enabled", 10003),
    ("liebert_psi", "output_off_pending", 10151),
    ("liebert_psi", "over_temperature", 10171),
    ("liebert_psi", "battery_over_temperature_trip", 10172),
    ("liebert_psi", "load_apparent_power", 30102),
    ("liebert_psi", "output_voltage_min_l1", 30183),
    ("liebert_psi2", "ambient_temperature_warning", 30069),
    ("liebert_psi2", "over_temperature_limit", 30072),
    ("liebert_psi2", "load_power", 30104),
    ("liebert_psi2", "ambient_temperature", 30119),
    ("liebert_gxt2", "load_circuit_16", 10072),
    ("liebert_gxt2", "battery_cabinet_count", 30019),
    ("liebert_gxt2", "input_voltage_min_l1", 30181),
    ("liebert_series600", "battery_charger_on", 10044),
    ("liebert_series600", "on_bypass", 10074),
    ("liebert_series600", "buck_mode", 10076),
    ("liebert_series600", "manual_reset_transfer", 10130),
    ("liebert_series600", "battery_switch_open", 10136),
    ("liebert_series600", "sbs_scr_short", 10150),
    ("liebert_series600", "output_short_circuit", 10220),
    ("liebert_series600", "nominal_power", 30021),
    ("liebert_series600", "battery_temperature", 30117),
    ("liebert_series600", "pfc_temperature", 30118),
    ("liebert_series600", "input_voltage_max_l2", 30230),
    ("liebert_series600", "input_voltage_min_l3", 30281),
    ("liebert_series600", "brownout_count", 30302),
)
MODICON_TABLES = {1: Table.DISCRETE_INPUT, 3: Table.INPUT_REGISTER}


@pytest.mark.parametrize(("variant", "key", "number"), GUIDE_NUMBERS)
def test_points_sit_where_the_guide_puts_them(variant: str, key: str, number: int) -> None:
    """The profile reads each point at the reference number the guide gives that model."""
    point = get_profile(variant).point(key)

    assert (point.table, point.address) == (MODICON_TABLES[number // 10000], number % 10000 - 1)


@pytest.mark.parametrize("variant", [*UPS_VARIANTS, "liebert_ds"])
def test_reads_stay_within_the_model_table_and_cross_only_small_holes(variant: str) -> None:
    """Each table is readable from the first to the last row the model lists, holes of 32 at most."""
    profile = get_profile(variant)
    for table in {point.table for point in profile.points}:
        listed = [point for point in profile.points if point.table is table]
        (area,) = [area for area in profile.limits.readable if area.table is table]
        assert area.start == min(point.address for point in listed)
        assert area.end == max(point.end for point in listed)
    assert {area.table for area in profile.limits.readable} == {p.table for p in profile.points}
    assert profile.limits.max_gap == 32


def test_series600_and_series300_share_the_commands_and_others_have_none() -> None:
    """Only the models whose tables list the command registers get commands."""
    for variant in UPS_VARIANTS:
        commands = {command.key for command in get_profile(variant).commands}
        assert commands == (set(ups.COMMANDS) if variant in COMMAND_VARIANTS else set()), variant


# --- Reading ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", [*UPS_VARIANTS, "liebert_ds"])
async def test_every_point_decodes_to_what_the_unit_holds(
    bus: Bus, unit_device: ProfileDevice, profile: Profile
) -> None:
    """The first poll decodes every point as stored, though the card refuses reads through holes."""
    unit_device.paused = True
    expected = _distinct_values(profile)
    _store(unit_device, expected)

    result = await Poller(bus, profile, UNIT).poll()

    assert result.available
    for key, value in expected.items():
        reading = result.readings[key]
        assert reading.state is PointState.VALID, (key, reading.error)
        assert _same(reading.value, value), (key, reading.value, value)


async def test_two_register_values_are_high_word_first(
    bus: Bus, unit_device: ProfileDevice, profile: Profile
) -> None:
    """Nominal power 0x0001_0000 VA arrives as registers 0x0001, 0x0000 (high word first)."""
    unit_device.paused = True
    point = profile.point(ups.NOMINAL_POWER)
    unit_device.set_registers(point.table, point.address, [0x0001, 0x0000])

    result = await Poller(bus, profile, UNIT).poll(keys=[ups.NOMINAL_POWER])

    assert result.value(ups.NOMINAL_POWER) == 65536


async def test_the_card_refuses_a_read_across_a_hole(bus: Bus, profile: Profile) -> None:
    """Reading from a listed bit into an unlisted one is answered with 'illegal data address'."""
    on_battery = profile.point(ups.ON_BATTERY)

    with pytest.raises(DeviceExceptionError) as refused:
        await bus.read(UNIT, on_battery.table, on_battery.address, 2, profile.limits)

    assert refused.value.is_illegal_address


# --- An outage ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", UPS_VARIANTS)
async def test_outage_drains_the_battery_warns_and_recovers(
    bus: Bus, behaviour: LiebertUpsBehaviour, clock: ManualClock, profile: Profile
) -> None:
    """OL, then OB DISCHRG while the battery drains, LB with shutdown imminent, then OL CHRG."""
    _, status = await _status(bus, profile)
    assert status.text == "OL"

    behaviour.fail_input()
    first, status = await _status(bus, profile)
    assert status.text == "OB DISCHRG"
    assert not status.shutdown_imminent

    clock.advance(20 * 60)
    drained, status = await _status(bus, profile)
    assert status.text == "OB DISCHRG"
    assert _lower(drained, first, ups.BATTERY_CHARGE)
    assert _lower(drained, first, ups.BATTERY_RUNTIME)
    if profile.has_point(ups.BATTERY_CURRENT):
        current = drained.value(ups.BATTERY_CURRENT)
        assert isinstance(current, int) and current < 0

    clock.advance(16 * 60)
    low, status = await _status(bus, profile)
    assert status.text == "OB LB DISCHRG"
    assert status.shutdown_imminent
    runtime, warning = low.value(ups.BATTERY_RUNTIME), profile.point(ups.LOW_BATTERY_WARNING_TIME)
    assert isinstance(runtime, int) and runtime <= 5, warning

    behaviour.restore_input()
    clock.advance(60)
    charging, status = await _status(bus, profile)
    assert status.text == "OL CHRG"
    assert not status.shutdown_imminent
    clock.advance(30 * 60)
    later, _ = await _status(bus, profile)
    assert _lower(charging, later, ups.BATTERY_CHARGE)


def _lower(first: PollResult, second: PollResult, key: str) -> bool:
    """Whether ``key`` reads lower in ``first`` than in ``second``."""
    before, after = first.value(key), second.value(key)
    assert isinstance(before, int) and isinstance(after, int), (key, before, after)
    return before < after


@pytest.mark.parametrize("transport", ["tcp"])
async def test_fast_time_brings_an_outage_by_itself(
    bus: Bus, behaviour: LiebertUpsBehaviour, clock: ManualClock, profile: Profile
) -> None:
    """With simulated time running 60 times faster, the input fails on its own schedule."""
    behaviour.speed = 60.0
    _, before = await _status(bus, profile)

    clock.advance(SCENARIO_OUTAGE_START / 60.0 + 1.0)
    _, during = await _status(bus, profile)

    assert before.text == "OL"
    assert during.text == "OB DISCHRG"


# --- Commands ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_silence_alarm(bus: Bus, behaviour: LiebertUpsBehaviour, profile: Profile) -> None:
    """The alarm goes quiet and 40101 reads back what was written."""
    result = await run_command(bus, profile, UNIT, "silence_alarm")

    assert result.writes == 1
    assert behaviour.alarm_silenced
    assert await bus.read(UNIT, HR, 100, 1, profile.limits) == [1]


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_battery_test_runs_and_passes(
    bus: Bus, behaviour: LiebertUpsBehaviour, clock: ManualClock, profile: Profile
) -> None:
    """A started test shows as in progress, then as passed once it is over."""
    behaviour.test_result = BatteryTestResult.FAILED

    await run_command(bus, profile, UNIT, "start_battery_test")
    running, status = await _status(bus, profile)
    clock.advance(10)
    done, after = await _status(bus, profile)

    assert running.value(ups.BATTERY_TEST_RESULT) == "in_progress"
    assert status.battery_test_running
    assert done.value(ups.BATTERY_TEST_RESULT) == "passed"
    assert not after.battery_test_running


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_battery_test_abort(
    bus: Bus, behaviour: LiebertUpsBehaviour, profile: Profile
) -> None:
    """An aborted test leaves the previous result, and 40102 reads back 0."""
    behaviour.test_result = BatteryTestResult.FAILED
    await run_command(bus, profile, UNIT, "start_battery_test")

    await run_command(bus, profile, UNIT, "stop_battery_test")
    result, status = await _status(bus, profile)

    assert result.value(ups.BATTERY_TEST_RESULT) == "failed"
    assert not status.battery_test_running
    assert await bus.read(UNIT, HR, 101, 1, profile.limits) == [0]


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_output_off_after_its_delay_and_on_again(
    bus: Bus, clock: ManualClock, profile: Profile
) -> None:
    """The output stays on until the delay is over, then drops; 'on' brings it back after its delay."""
    output = ups.phase_key(ups.OUTPUT_VOLTAGE, 1)
    await run_command(bus, profile, UNIT, "output_off", {"delay": 30}, confirm=True)
    clock.advance(29)
    waiting, _ = await _status(bus, profile)
    clock.advance(1)
    off, status_off = await _status(bus, profile)

    await run_command(bus, profile, UNIT, "output_on", {"delay": 10})
    clock.advance(10)
    on, status_on = await _status(bus, profile)

    assert waiting.value(output) == 230
    assert off.value(output) == 0
    assert off.value(ups.LOAD) == 0
    assert ("OFF" in status_off.tokens) is profile.has_point(ups.OUTPUT_OFF)
    assert on.value(output) == 230
    assert status_on.text == "OL"


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_output_reboot(bus: Bus, clock: ManualClock, profile: Profile) -> None:
    """A reboot without delay drops the output at once and restores it 10 s later."""
    output = ups.phase_key(ups.OUTPUT_VOLTAGE, 1)

    await run_command(bus, profile, UNIT, "output_reboot", {"delay": 0}, confirm=True)
    off, _ = await _status(bus, profile)
    clock.advance(10)
    on, _ = await _status(bus, profile)

    assert off.value(output) == 0
    assert on.value(output) == 230


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_transfer_to_bypass_and_back(bus: Bus, profile: Profile) -> None:
    """The load moves to the bypass (BYPASS, inverter off) and back to the inverter."""
    await run_command(bus, profile, UNIT, "transfer_to_bypass", confirm=True)
    bypass, status_bypass = await _status(bus, profile)
    await run_command(bus, profile, UNIT, "transfer_to_inverter")
    inverter, status_inverter = await _status(bus, profile)

    assert status_bypass.text == "OL BYPASS"
    assert bypass.value(ups.ON_INVERTER) is False
    assert status_inverter.text == "OL"
    assert inverter.value(ups.ON_INVERTER) is True


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_reset_statistics(bus: Bus, profile: Profile) -> None:
    """The black-out and brown-out counts go back to zero."""
    before, _ = await _status(bus, profile)

    await run_command(bus, profile, UNIT, "reset_statistics", confirm=True)
    after, _ = await _status(bus, profile)

    assert (before.value(ups.BLACKOUT_COUNT), before.value(ups.BROWNOUT_COUNT)) == (3, 7)
    assert (after.value(ups.BLACKOUT_COUNT), after.value(ups.BROWNOUT_COUNT)) == (0, 0)


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
async def test_outlets_switch_by_bitmask(
    bus: Bus, behaviour: LiebertUpsBehaviour, profile: Profile
) -> None:
    """Set bits switch outlets off, then on; the card echoes each mask."""
    present = behaviour.outlets

    await run_command(bus, profile, UNIT, "outlets_off", {"outlets": 0b0101}, confirm=True)
    after_off = behaviour.outlets
    await run_command(bus, profile, UNIT, "outlets_on", {"outlets": 0b0001})

    assert after_off == present & ~0b0101
    assert behaviour.outlets == present & ~0b0100
    assert await bus.read(UNIT, HR, 111, 2, profile.limits) == [0b0001, 0b0101]


async def test_outlet_state_shows_on_models_with_load_circuit_bits(clock: ManualClock) -> None:
    """On a GXT2 the load-circuit bits follow the simulated outlets."""
    device = ProfileDevice(get_profile("liebert_gxt2"), LiebertUpsBehaviour(), clock=clock)
    behaviour = device.behaviour
    assert isinstance(behaviour, LiebertUpsBehaviour)

    behaviour.outlets = 0b0110
    device.advance()

    assert [device.get_value(f"load_circuit_{n}") for n in (1, 2, 3, 4)] == [
        False,
        True,
        True,
        False,
    ]


DANGEROUS: tuple[tuple[str, dict[str, object]], ...] = (
    ("output_off", {"delay": 0}),
    ("output_reboot", {"delay": 0}),
    ("transfer_to_bypass", {}),
    ("reset_statistics", {}),
    ("outlets_off", {"outlets": 1}),
)


@pytest.mark.parametrize("variant", COMMAND_VARIANTS)
@pytest.mark.parametrize(("command", "params"), DANGEROUS)
async def test_dangerous_command_without_confirmation_writes_nothing(
    bus: Bus, unit_device: ProfileDevice, profile: Profile, command: str, params: dict[str, object]
) -> None:
    """Without confirmation no request goes out and the unit is unchanged."""
    requests = bus.stats(UNIT).requests
    image = _image(unit_device)

    with pytest.raises(ConfirmationRequiredError):
        await run_command(bus, profile, UNIT, command, params)

    assert bus.stats(UNIT).requests == requests
    assert _image(unit_device) == image


@pytest.mark.parametrize(
    ("command", "params"),
    [
        ("output_on", {"delay": 15}),
        ("output_on", {"delay": -10}),
        ("output_on", {"delay": 2.5}),
        ("output_on", {"delay": 65540}),
        ("output_on", {"delay": "soon"}),
        ("output_off", {"delay": 5}),
        ("output_reboot", {"delay": -1}),
        ("outlets_on", {"outlets": 0}),
        ("outlets_on", {"outlets": 1 << 16}),
        ("start_battery_test", {"delay": 10}),
    ],
)
async def test_invalid_parameters_write_nothing(
    bus: Bus, unit_device: ProfileDevice, profile: Profile, command: str, params: dict[str, object]
) -> None:
    """A delay that is no multiple of 10 s, negative or too long (and other bad values) sends nothing."""
    requests = bus.stats(UNIT).requests
    image = _image(unit_device)

    with pytest.raises(WriteValidationError):
        await run_command(bus, profile, UNIT, command, params, confirm=True)

    assert bus.stats(UNIT).requests == requests
    assert _image(unit_device) == image


@pytest.mark.parametrize("variant", ["liebert_gxt2", "liebert_nx"])
async def test_models_without_command_registers(bus: Bus, profile: Profile) -> None:
    """The profile offers no command, and the card refuses a write to 40104."""
    with pytest.raises(WriteValidationError):
        await run_command(bus, profile, UNIT, "output_off", {"delay": 0}, confirm=True)

    with pytest.raises(DeviceExceptionError) as refused:
        await bus.write_registers(UNIT, 103, [0], profile.limits)
    assert refused.value.is_illegal_address
