"""What each entity shows from a device snapshot, and what a user's action writes.

The states are what Home Assistant and MQTT show: an entity is unavailable rather
than showing an old value as fresh, a kVA reading is shown in VA where the release
asks for it, a select shows the name of the number behind it. The actions run on a
device session over an in-memory link, so a test sees exactly what went over the
"wire": a refused value sends nothing at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal

from hypothesis import example, given, settings, strategies as st
import pytest

from powerbus.catalogue import catalogue
from powerbus.codecs import decode_point, encode_value
from powerbus.commands import CommandResult
from powerbus.entity_spec import EntitySpec, Source
from powerbus.entity_state import EntityState, entity_states, operate
from powerbus.errors import WriteValidationError
from powerbus.models import DataType, PointState, Profile, Reading, Table, Value
from powerbus.profile import get_profile, parse_profile_text
from powerbus.session import DeviceSession
from powerbus.snapshot import DeviceSnapshot
from powerbus.ups_entities import ups_values
from powerbus.vocabulary import HA_2025_4, HA_2026_10, Vocabulary

from .fakes import FakeClock, FakeTransport, SimUnit, make_bus

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
BENCH_YAML = """
family: bench
manufacturer: Test Instruments
addressing: pdu
limits: {timeout: 0.5}
defaults: {table: holding_register, data_type: u16}
point_sets:
  all:
    - {key: relay, name: Relay, table: coil, data_type: bool, address: 0, write: {}}
    - {key: mode, name: Mode, address: 0, options: {0: auto, 1: manual, 2: "off"}, write: {}}
    - {key: rate, name: Rate, address: 1, unit: Bd, write: {choices: [1200, 9600, 19200]}}
    - {key: setpoint, name: Setpoint, address: 2, scale: 0.5, unit: °C, device_class: temperature, write: {min: 5, max: 35}}
    - {key: power_limit, name: Power limit, address: 4, data_type: u32, scale: 0.01, unit: kVA, device_class: apparent_power, precision: 2, write: {min: 0, max: 500}}
    - {key: apparent_power, name: Apparent power, address: 10, data_type: s32, scale: 0.001, unit: kVA, device_class: apparent_power, state_class: measurement, precision: 3}
    - {key: state, name: State, address: 12, options: {0: idle, 1: busy}}
    - {key: alarm, name: Alarm, address: 13, bit: 0, device_class: problem}
    - {key: unit_address, name: Unit address, address: 14, write: {min: 1, max: 247, dangerous: true}}
commands:
  - key: identify
    name: Identify
    steps:
      - write: {address: 40, value: 1}
  - key: factory_reset
    name: Factory reset
    dangerous: true
    steps:
      - write: {address: 42, value: 165}
variants:
  - key: bench
    name: Bench device
    point_sets: [all]
    commands: [identify, factory_reset]
"""
"""A device with a switch, two selects, two numbers, sensors and two buttons."""

STATS: dict[str, float | int | None] = {
    "requests": 12,
    "errors": 3,
    "timeouts": 2,
    "latency": 8.5,
    "last_success": 1_700_000_000.0,
    "interval_asked": 2.0,
    "interval_achieved": 2.1,
}
UPS_FLAGS = {
    "ups_on_battery": ("on_battery",),
    "ups_low_battery": ("shutdown_imminent",),
    "ups_replace_battery": ("replace_battery",),
    "ups_overload": ("output_overload",),
    "ups_on_bypass": ("on_bypass",),
}
"""The derived flags of a Liebert GXT2, and the points each stands for."""


def bench() -> Profile:
    """Return the test device of :data:`BENCH_YAML`."""
    return parse_profile_text(BENCH_YAML, "bench.yaml")["bench"]


def snapshot(
    values: Mapping[str, Value | None],
    *,
    available: bool = True,
    states: Mapping[str, PointState] | None = None,
    profile: str = "bench",
) -> DeviceSnapshot:
    """Return a snapshot with these readings, valid unless ``states`` says otherwise."""
    states = states or {}
    readings = {
        key: Reading(
            key=key,
            value=value,
            state=states.get(key, PointState.VALID if available else PointState.UNAVAILABLE),
            timestamp=1_699_999_990.0,
        )
        for key, value in values.items()
    }
    return DeviceSnapshot(
        profile=profile,
        unit=1,
        uid=f"{profile}_tcp_127_0_0_1_502_u1",
        available=available,
        identity=None,
        readings=readings,
        polled_at=1_700_000_000.0,
        last_success=1_700_000_000.0 if available else 1_699_999_990.0,
        stats=STATS,
    )


BENCH_VALUES: dict[str, Value | None] = {
    "relay": True,
    "mode": "manual",
    "rate": 9600,
    "setpoint": 21.5,
    "power_limit": 12.5,
    "apparent_power": 1.234,
    "state": "busy",
    "alarm": False,
    "unit_address": 7,
}


def states_of(
    profile: Profile, snap: DeviceSnapshot, vocabulary: Vocabulary = HA_2025_4
) -> dict[str, EntityState]:
    """Return every entity's state for the snapshot."""
    return entity_states(profile, catalogue(profile, vocabulary), snap)


def spec_of(profile: Profile, key: str) -> EntitySpec:
    """Return the entity of ``key`` in the profile's catalogue (for Home Assistant 2025.4)."""
    return next(spec for spec in catalogue(profile, HA_2025_4) if spec.key == key)


# --- Availability -------------------------------------------------------------------------------
def test_a_device_that_does_not_answer_makes_its_entities_unavailable() -> None:
    """Points, derived values and buttons go unavailable; the bus statistics stay."""
    profile = get_profile("liebert_gxt2")
    specs = catalogue(profile)
    values = {point.key: None for point in profile.points} | {"on_battery": True}
    states = entity_states(profile, specs, snapshot(values, available=False))
    assert set(states) == {spec.key for spec in specs}
    for spec in specs:
        if spec.source is Source.STATISTIC:
            assert states[spec.key].available, spec.key
        else:
            assert states[spec.key] == EntityState(available=False, value=None), spec.key
    assert states["bus_errors"].value == 3
    assert states["bus_latency"].value == 8.5


def test_a_device_that_does_not_answer_shows_no_old_value() -> None:
    """Last known values are kept in the snapshot but never shown while the device is away."""
    states = states_of(bench(), snapshot(BENCH_VALUES, available=False))
    for key in BENCH_VALUES:
        assert states[key] == EntityState(available=False, value=None), key
    assert not states["identify"].available
    assert states["bus_requests"] == EntityState(available=True, value=12)


@pytest.mark.parametrize("state", [PointState.ERROR, PointState.UNAVAILABLE])
def test_a_point_not_read_validly_is_unavailable_while_the_device_answers(
    state: PointState,
) -> None:
    """A point the last poll could not read shows unavailable, not its previous value."""
    states = states_of(bench(), snapshot(BENCH_VALUES, states={"setpoint": state}))
    assert states["setpoint"] == EntityState(available=False, value=None)
    assert states["mode"] == EntityState(available=True, value="manual")
    assert states["identify"].available


def test_a_point_never_read_is_unavailable() -> None:
    """A point without a reading (not polled yet, or disabled) has nothing to show."""
    values = {key: value for key, value in BENCH_VALUES.items() if key != "state"}
    assert states_of(bench(), snapshot(values))["state"] == EntityState(available=False, value=None)


# --- Values -------------------------------------------------------------------------------------
def test_values_are_shown_in_the_entity_unit() -> None:
    """On Home Assistant 2025.4, 1.234 kVA shows as 1234 VA; on 2026.10 it stays 1.234 kVA."""
    old = states_of(bench(), snapshot(BENCH_VALUES), HA_2025_4)
    new = states_of(bench(), snapshot(BENCH_VALUES), HA_2026_10)
    assert old["apparent_power"].value == pytest.approx(1234.0)
    assert old["power_limit"].value == pytest.approx(12_500.0)
    assert new["apparent_power"].value == pytest.approx(1.234)
    assert new["power_limit"].value == pytest.approx(12.5)


def test_each_platform_shows_its_kind_of_value() -> None:
    """A switch and a binary sensor show bools, a select its option, a number its value."""
    states = states_of(bench(), snapshot(BENCH_VALUES))
    assert states["relay"] == EntityState(available=True, value=True)
    assert states["alarm"] == EntityState(available=True, value=False)
    assert states["mode"] == EntityState(available=True, value="manual")
    assert states["state"] == EntityState(available=True, value="busy")
    assert states["setpoint"] == EntityState(available=True, value=21.5)
    assert states["unit_address"] == EntityState(available=True, value=7)
    assert states["identify"] == EntityState(available=True, value=None)


def test_a_select_over_numbers_shows_the_option_of_the_number() -> None:
    """The baud rate 9600 shows as the option the drop-down lists for it."""
    profile = bench()
    rate = spec_of(profile, "rate")
    state = states_of(profile, snapshot(BENCH_VALUES))["rate"]
    assert state.available
    assert state.value in rate.options
    assert rate.option_values[rate.options.index(str(state.value))] == 9600


@pytest.mark.parametrize("key", ["state", "mode", "rate"])
def test_a_value_that_is_not_one_of_the_options_is_unknown(key: str) -> None:
    """Home Assistant refuses an enum state outside its options: an unlisted raw value is unknown."""
    profile = bench()
    unlisted: Value = 4800 if key == "rate" else "unknown (7)"
    states = states_of(profile, snapshot(BENCH_VALUES | {key: unlisted}))
    assert states[key] == EntityState(available=True, value=None)


def test_statistics_are_shown_as_the_session_reports_them() -> None:
    """Every bus statistic has its entity, fed from the snapshot's statistics."""
    states = states_of(bench(), snapshot(BENCH_VALUES))
    for name, value in STATS.items():
        assert states[f"bus_{name}"] == EntityState(available=True, value=value)


async def test_a_session_feeds_every_statistics_entity() -> None:
    """Each bus statistic entity finds its figure in a real session's snapshot."""
    rig = Rig(bench())
    snap = await rig.session.refresh()
    specs = [spec for spec in catalogue(rig.profile) if spec.source is Source.STATISTIC]
    assert {spec.key.removeprefix("bus_") for spec in specs} == set(snap.stats)
    states = entity_states(rig.profile, specs, snap)
    assert states["bus_requests"].value == len(rig.link.requests())
    assert states["bus_errors"] == EntityState(available=True, value=0)


# --- UPS ----------------------------------------------------------------------------------------
def gxt2_values(**flags: Value | None) -> dict[str, Value | None]:
    """Return every GXT2 point as unknown, except the flags given."""
    return {point.key: None for point in get_profile("liebert_gxt2").points} | flags


def test_a_ups_on_battery_says_so() -> None:
    """The status is on battery, and the on-battery sensor is on."""
    derived = ups_values(
        get_profile("liebert_gxt2"), gxt2_values(on_battery=True, shutdown_imminent=False)
    )
    assert derived["ups_status"] == "on_battery"
    assert derived["ups_on_battery"] is True
    assert derived["ups_low_battery"] is False
    assert derived["ups_status_text"] is not None
    assert "OB" in str(derived["ups_status_text"]).split()


def test_a_ups_on_battery_about_to_shut_down_has_a_low_battery() -> None:
    """An announced shutdown on battery is the low-battery state."""
    derived = ups_values(
        get_profile("liebert_gxt2"), gxt2_values(on_battery=True, shutdown_imminent=True)
    )
    assert derived["ups_status"] == "low_battery"
    assert derived["ups_low_battery"] is True
    assert {"OB", "LB"} <= set(str(derived["ups_status_text"]).split())


def test_a_ups_on_line_is_online() -> None:
    """Known not on battery, output on: online."""
    derived = ups_values(
        get_profile("liebert_gxt2"), gxt2_values(on_battery=False, input_fail=False)
    )
    assert derived["ups_status"] == "online"
    assert derived["ups_on_battery"] is False


def test_a_ups_whose_flags_are_unknown_shows_unknown_not_off() -> None:
    """Nothing read means nothing known: no flag may show as a reassuring "off"."""
    derived = ups_values(get_profile("liebert_gxt2"), gxt2_values())
    for key, value in derived.items():
        assert value is None, key


def test_the_active_alarms_are_named() -> None:
    """Replace battery and an overload show in the alarm text, and the alarm sensor is on."""
    profile = get_profile("liebert_gxt2")
    derived = ups_values(
        profile, gxt2_values(on_battery=False, replace_battery=True, output_overload=True)
    )
    assert derived["ups_alarm"] is True
    assert derived["ups_replace_battery"] is True
    assert derived["ups_overload"] is True
    text = str(derived["ups_alarms"])
    assert "Replace battery" in text
    assert "overload" in text.lower()


def test_a_family_fault_flag_raises_the_alarm() -> None:
    """A Liebert-only fault (input over-voltage) counts as an alarm too."""
    derived = ups_values(
        get_profile("liebert_gxt2"), gxt2_values(on_battery=False, input_over_voltage=True)
    )
    assert derived["ups_alarm"] is True
    assert "over voltage" in str(derived["ups_alarms"]).lower()


def test_no_alarm_when_the_alarm_flags_read_clear() -> None:
    """Every alarm flag known and clear: the alarm sensor is off."""
    profile = get_profile("liebert_gxt2")
    clear = {
        point.key: False
        for point in profile.points
        if point.bit is not None or point.data_type is DataType.BOOL
    }
    derived = ups_values(profile, gxt2_values(**clear))
    assert derived["ups_alarm"] is False
    assert not derived["ups_alarms"]


flag_values = st.sampled_from([True, False, None])


@given(
    flags=st.fixed_dictionaries(
        {point: flag_values for points in UPS_FLAGS.values() for point in points}
    )
)
def test_a_derived_flag_is_unknown_exactly_when_its_points_are(
    flags: dict[str, bool | None],
) -> None:
    """A derived flag follows its points when they are known, and is None, never False, when not."""
    derived = ups_values(get_profile("liebert_gxt2"), gxt2_values(**flags))
    for key, points in UPS_FLAGS.items():
        known = [flags[point] for point in points if flags[point] is not None]
        if known:
            assert derived[key] is any(known), key
        else:
            assert derived[key] is None, key


def test_ups_entities_show_the_derived_values_while_the_device_answers() -> None:
    """The snapshot's valid flags drive the UPS entities."""
    profile = get_profile("liebert_gxt2")
    values = gxt2_values(on_battery=True, shutdown_imminent=False, output_overload=False)
    states = entity_states(profile, catalogue(profile), snapshot(values, profile="liebert_gxt2"))
    assert states["ups_status"] == EntityState(available=True, value="on_battery")
    assert states["ups_on_battery"] == EntityState(available=True, value=True)
    assert states["ups_overload"] == EntityState(available=True, value=False)
    assert states["ups_on_bypass"] == EntityState(available=True, value=None)


def test_a_flag_read_in_error_does_not_drive_the_ups_entities() -> None:
    """An on-battery flag from an earlier poll is not taken as the UPS's state now."""
    profile = get_profile("liebert_gxt2")
    values = gxt2_values(on_battery=True)
    snap = snapshot(values, states={"on_battery": PointState.ERROR}, profile="liebert_gxt2")
    states = entity_states(profile, catalogue(profile), snap)
    assert states["ups_status"] == EntityState(available=True, value=None)
    assert states["ups_on_battery"] == EntityState(available=True, value=None)


# --- Actions ------------------------------------------------------------------------------------
class Rig:
    """A device session on an in-memory link holding one simulated device."""

    def __init__(self, profile: Profile, registers: Mapping[int, int] | None = None) -> None:
        """Put a device with these holding registers at unit 1 and open a session to it."""
        self.clock = FakeClock()
        self.link = FakeTransport(self.clock)
        self.device: SimUnit = self.link.add_unit(1)
        self.device.put_raw(HR, 0, [0] * 50)
        for address, value in (registers or {}).items():
            self.device.put_raw(HR, address, [value])
        self.profile = profile
        self.session = DeviceSession(
            make_bus(self.link, self.clock),
            profile,
            1,
            clock=self.clock,
            wall_clock=self.clock.wall,
            sleep=self.clock.sleep,
        )

    def holding(self, address: int, count: int = 1) -> list[int]:
        """Return registers of the device as they are now."""
        return [int(v) for v in self.device.read(HR, address, count)]

    def writes(self) -> list[str]:
        """Return the write requests the device received."""
        return [r.function for r in self.link.requests() if r.function != "read"]


async def test_a_switch_turns_the_coil_on_and_off() -> None:
    """Switching writes the coil and the entity shows what the device reads back."""
    rig = Rig(bench())
    relay = spec_of(rig.profile, "relay")
    reading = await operate(rig.session, relay, True)
    assert isinstance(reading, Reading)
    assert reading.value is True
    assert rig.device.read(Table.COIL, 0, 1) == [True]
    await operate(rig.session, relay, False)
    assert rig.device.read(Table.COIL, 0, 1) == [False]
    assert rig.writes() == ["write_coils", "write_coils"]


async def test_a_select_writes_the_raw_value_of_the_chosen_label() -> None:
    """Choosing "off" writes the number the profile gives "off"."""
    rig = Rig(bench())
    await operate(rig.session, spec_of(rig.profile, "mode"), "off")
    assert rig.holding(0) == [2]
    await operate(rig.session, spec_of(rig.profile, "mode"), "auto")
    assert rig.holding(0) == [0]


async def test_a_select_over_numbers_writes_the_number_of_the_label() -> None:
    """Picking a baud rate from the list writes that rate."""
    rig = Rig(bench())
    rate = spec_of(rig.profile, "rate")
    label = rate.options[rate.option_values.index(19200)]
    await operate(rig.session, rate, label)
    assert rig.holding(1) == [19200]
    states = entity_states(rig.profile, [rate], rig.session.snapshot)
    assert states["rate"] == EntityState(available=True, value=label)


async def test_a_number_is_written_in_the_point_unit() -> None:
    """12.5 kVA set as 12500 VA writes 1250 hundredths of a kVA; 21.5 °C writes 43 halves."""
    rig = Rig(bench())
    await operate(rig.session, spec_of(rig.profile, "power_limit"), 12_500)
    assert rig.holding(4, 2) == [0, 1250]
    await operate(rig.session, spec_of(rig.profile, "setpoint"), 21.5)
    assert rig.holding(2) == [43]


async def test_a_button_runs_its_command() -> None:
    """Pressing Identify runs its steps."""
    rig = Rig(bench())
    result = await operate(rig.session, spec_of(rig.profile, "identify"))
    assert isinstance(result, CommandResult)
    assert result.outcome == "done"
    assert rig.holding(40) == [1]


async def test_a_dangerous_button_runs_once_the_user_has_enabled_it() -> None:
    """The enabled button carries the confirmation a dangerous command needs."""
    rig = Rig(bench())
    reset = spec_of(rig.profile, "factory_reset")
    assert reset.dangerous
    result = await operate(rig.session, reset)
    assert isinstance(result, CommandResult)
    assert rig.holding(42) == [165]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("relay", 1),
        ("relay", "on"),
        ("relay", None),
        ("mode", "turbo"),
        ("mode", 1),
        ("rate", "4800"),
        ("rate", 9600),
        ("setpoint", 40),
        ("setpoint", 4.5),
        ("setpoint", "21"),
        ("setpoint", True),
        ("setpoint", None),
        ("setpoint", float("nan")),
        ("setpoint", float("inf")),
        ("power_limit", 500_001),
        ("power_limit", -10),
        ("apparent_power", 1000),
        ("alarm", True),
        ("state", "idle"),
        ("unit_address", 3),
    ],
)
async def test_a_refused_value_sends_nothing(key: str, value: Value | None) -> None:
    """A wrong option, an out-of-range or non-numeric value, a read-only entity: no request."""
    rig = Rig(bench())
    with pytest.raises(WriteValidationError):
        await operate(rig.session, spec_of(rig.profile, key), value)
    assert rig.link.requests() == []


# --- Round trips --------------------------------------------------------------------------------
def scaled_profile(data_type: DataType, scale: str, unit: str, maximum: str) -> Profile:
    """Return a device with one writable apparent-power setting of this type, scale and unit."""
    count = 1 if data_type is DataType.U16 else 2
    return parse_profile_text(
        f"""
family: trip
manufacturer: Test
point_sets:
  all:
    - {{key: level, name: Level, table: holding_register, address: 0, data_type: {data_type.value}, count: {count}, scale: {scale}, unit: {unit}, device_class: apparent_power, precision: 3, write: {{min: 0, max: {maximum}}}}}
variants:
  - {{key: trip, name: Trip, point_sets: [all]}}
""",
        "trip.yaml",
    )["trip"]


@settings(max_examples=150, deadline=None)
@given(
    data_type=st.sampled_from([DataType.U16, DataType.U32, DataType.S32]),
    scale=st.sampled_from(["1", "0.5", "0.1", "0.01", "0.001", "2"]),
    unit=st.sampled_from(["kVA", "VA"]),
    raw=st.integers(0, 0xFFFF),
)
def test_an_entity_value_written_back_leaves_the_point_as_it_was(
    data_type: DataType, scale: str, unit: str, raw: int
) -> None:
    """Whatever the unit conversion, writing back the value an entity shows changes nothing."""
    profile = scaled_profile(data_type, scale, unit, "1e9")
    point = profile.point("level")
    registers = encode_value(data_type, raw, point.word_order, point.count)

    async def round_trip() -> None:
        rig = Rig(profile, dict(enumerate(registers)))
        await rig.session.refresh()
        spec = spec_of(profile, "level")
        shown = entity_states(profile, [spec], rig.session.snapshot)["level"]
        assert shown.available
        assert isinstance(shown.value, int | float)
        await operate(rig.session, spec, shown.value)
        assert rig.holding(0, point.count) == registers
        assert decode_point(point, registers) == rig.session.snapshot.value("level")

    asyncio.run(round_trip())


@settings(max_examples=150, deadline=None)
@given(
    unit=st.sampled_from(["kVA", "VA"]),
    value=st.floats(min_value=2**-10, max_value=1e7, width=32),
)
def test_a_float_setting_written_back_leaves_the_point_as_it_was(unit: str, value: float) -> None:
    """A float register shown in VA and written back keeps every bit of its value."""
    profile = scaled_profile(DataType.F32, "1", unit, "1e9")
    point = profile.point("level")
    registers = encode_value(DataType.F32, value, point.word_order, point.count)

    async def round_trip() -> None:
        rig = Rig(profile, dict(enumerate(registers)))
        await rig.session.refresh()
        spec = spec_of(profile, "level")
        shown = entity_states(profile, [spec], rig.session.snapshot)["level"]
        assert isinstance(shown.value, float)
        await operate(rig.session, spec, shown.value)
        assert rig.holding(0, 2) == registers

    asyncio.run(round_trip())


@settings(max_examples=200, deadline=None)
@example(places=4, maximum=Decimal("0.0021"))
@given(
    places=st.integers(0, 4),
    maximum=st.decimals(
        Decimal("0.0001"), Decimal(100_000), places=4, allow_nan=False, allow_infinity=False
    ),
)
def test_a_converted_number_can_be_set_to_its_limits(places: int, maximum: Decimal) -> None:
    """The slider's ends are accepted: its maximum in VA is the profile's maximum in kVA."""
    scale = Decimal(1).scaleb(-places)
    maximum = max(maximum.quantize(scale), scale)
    profile = scaled_profile(DataType.U32, str(scale), "kVA", str(maximum))
    spec = spec_of(profile, "level")
    assert spec.factor == 1000.0
    assert spec.maximum is not None
    assert spec.minimum == 0.0

    async def set_limits() -> None:
        rig = Rig(profile)
        assert spec.maximum is not None
        await operate(rig.session, spec, spec.maximum)
        assert rig.holding(0, 2) == encode_value(
            DataType.U32, int(maximum / scale), profile.point("level").word_order, 2
        )
        await operate(rig.session, spec, 0.0)
        assert rig.holding(0, 2) == [0, 0]

    asyncio.run(set_limits())
