"""The entity catalogue: which entities a device gets, on which platform, in which units.

Both front ends (the Home Assistant integration and the MQTT bridge) publish exactly
these entities, so every rule here is something a user sees: a setting offered as a
slider or a drop-down, a dangerous register left read-only, a kVA reading shown in
VA on an older Home Assistant, a unique id that survives a move to another link.
"""

from __future__ import annotations

from collections import Counter
import re

from hypothesis import given, strategies as st
import pytest

from powerbus.catalogue import catalogue
from powerbus.entity_spec import EntitySpec, Platform, Source
from powerbus.link import LinkKind, LinkSettings, parse_link
from powerbus.models import EntityCategory, Profile, StateClass, TransportDefaults
from powerbus.profile import builtin_profiles, get_profile, parse_profile_text
from powerbus.session import DeviceSession
from powerbus.uid import device_uid, entity_unique_id, link_id, slug
from powerbus.vocabulary import BINARY_SENSOR_DEVICE_CLASSES, HA_2025_4, HA_2026_10, Vocabulary

from .fakes import RTU_LINK, FakeClock, FakeTransport, make_bus, small_meter

pytestmark = pytest.mark.hardware_free

WORKSHOP_YAML = """
family: workshop
manufacturer: Test Instruments
addressing: pdu
defaults: {table: holding_register, data_type: u16}
point_sets:
  all:
    - {key: alarm_bit, name: Alarm, address: 0, bit: 3, device_class: problem}
    - {key: running, name: Running, address: 0, table: discrete_input, data_type: bool, device_class: running}
    - {key: relay, name: Relay, address: 0, table: coil, data_type: bool, write: {}}
    - {key: relay_locked, name: Locked relay, address: 1, table: coil, data_type: bool, device_class: power, write: {dangerous: true}}
    - {key: heater, name: Heater, address: 1, data_type: bool, device_class: heat}
    - {key: mode, name: Mode, address: 2, options: {0: auto, 1: manual, 2: "off"}, write: {}}
    - {key: state, name: State, address: 3, options: {0: idle, 1: busy, 2: fault}}
    - {key: setpoint, name: Setpoint, address: 4, scale: 0.5, unit: °C, device_class: temperature, write: {min: 5, max: 35}}
    - {key: gain, name: Gain, address: 5, data_type: f32, precision: 2, write: {min: 0, max: 10}}
    - {key: rate, name: Rate, address: 9, unit: Bd, write: {choices: [1200, 9600, 19200]}}
    - {key: unit_address, name: Unit address, address: 10, write: {min: 1, max: 247, dangerous: true}}
    - {key: parity, name: Parity, address: 11, options: {0: none, 1: even}, write: {dangerous: true}}
    - {key: label, name: Label, address: 12, data_type: string, count: 4, write: {}}
    - {key: tag, name: Tag, address: 16, data_type: hex, count: 2}
    - {key: power_limit, name: Power limit, address: 18, data_type: u32, scale: 0.01, unit: kVA, device_class: apparent_power, precision: 2, write: {min: 0, max: 500}}
    - {key: apparent_power, name: Apparent power, address: 20, data_type: s32, scale: 0.001, unit: kVA, device_class: apparent_power, state_class: measurement, precision: 3}
    - {key: reactive_power, name: Reactive power, address: 22, data_type: s32, scale: 0.1, unit: kvar, device_class: reactive_power, state_class: measurement, precision: 1}
    - {key: reactive_energy, name: Reactive energy, address: 24, data_type: u32, unit: kvarh, device_class: reactive_energy, state_class: total_increasing, precision: 2}
    - {key: energy, name: Energy, address: 26, data_type: u32, scale: 0.1, unit: kWh, device_class: energy, state_class: total_increasing, precision: 1}
    - {key: hidden, name: Hidden, address: 28, entity_category: diagnostic, enabled_by_default: false}
    - {key: code, name: Code, address: 29, data_type: hex, count: 1, write: {}}
commands:
  - key: identify
    name: Identify
    steps:
      - write: {address: 40, value: 1}
  - key: blink
    name: Blink
    params:
      - {key: seconds, name: Seconds, kind: int, min: 1, max: 30, default: 5}
    steps:
      - write: {address: 41, value: {param: seconds}}
  - key: factory_reset
    name: Factory reset
    dangerous: true
    steps:
      - write: {address: 42, value: 1}
  - key: set_clock
    name: Set clock
    params:
      - {key: hours, name: Hours, kind: int, min: 0, max: 23}
    steps:
      - write: {address: 43, value: {param: hours}}
variants:
  - key: workshop
    name: Workshop device
    point_sets: [all]
    commands: [identify, blink, factory_reset, set_clock]
"""
"""A device with one point or command of each kind the catalogue tells apart."""

UPS_PROFILES = ("liebert_gxt2", "apc_smart_ups")
UPS_FLAGS = {
    "ups_on_battery": ("on_battery",),
    "ups_low_battery": ("low_battery", "shutdown_imminent"),
    "ups_replace_battery": ("replace_battery",),
    "ups_overload": ("output_overload",),
    "ups_on_bypass": ("on_bypass",),
}
"""Each derived UPS binary sensor, and the canonical flag points it stands for."""

SLUG = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


def workshop() -> Profile:
    """Return the test device of :data:`WORKSHOP_YAML`."""
    return parse_profile_text(WORKSHOP_YAML, "workshop.yaml")["workshop"]


def by_key(specs: tuple[EntitySpec, ...]) -> dict[str, EntitySpec]:
    """Return the entities indexed by key."""
    return {spec.key: spec for spec in specs}


def shipped_profile_keys() -> list[str]:
    """Return the keys of every profile that ships with the engine."""
    return sorted(builtin_profiles())


# --- Platforms ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "platform"),
    [
        ("alarm_bit", Platform.BINARY_SENSOR),
        ("running", Platform.BINARY_SENSOR),
        ("heater", Platform.BINARY_SENSOR),
        ("relay", Platform.SWITCH),
        ("relay_locked", Platform.BINARY_SENSOR),
        ("mode", Platform.SELECT),
        ("state", Platform.SENSOR),
        ("setpoint", Platform.NUMBER),
        ("gain", Platform.NUMBER),
        ("rate", Platform.SELECT),
        ("unit_address", Platform.SENSOR),
        ("parity", Platform.SENSOR),
        ("label", Platform.SENSOR),
        ("code", Platform.SENSOR),
        ("tag", Platform.SENSOR),
        ("power_limit", Platform.NUMBER),
        ("apparent_power", Platform.SENSOR),
        ("energy", Platform.SENSOR),
    ],
)
def test_each_point_lands_on_the_platform_its_kind_asks_for(key: str, platform: Platform) -> None:
    """Bools are binary sensors, writable ones switches; settings are selects or numbers."""
    spec = by_key(catalogue(workshop()))[key]
    assert spec.platform is platform
    assert spec.source is Source.POINT
    assert spec.point == key


def test_binary_sensors_keep_their_device_class_and_switches_drop_it() -> None:
    """A flag shows as a problem or heat sensor; a relay is a plain switch."""
    specs = by_key(catalogue(workshop()))
    assert specs["alarm_bit"].device_class == "problem"
    assert specs["heater"].device_class == "heat"
    assert specs["relay_locked"].device_class == "power"
    assert specs["relay"].device_class is None


def test_a_select_offers_the_point_option_labels() -> None:
    """A writable point with named options is a drop-down of those names."""
    mode = by_key(catalogue(workshop()))["mode"]
    assert mode.options == ("auto", "manual", "off")
    assert mode.option_values == ()


def test_a_read_only_point_with_options_is_an_enum_sensor() -> None:
    """Home Assistant needs the enum device class and the list of states."""
    state = by_key(catalogue(workshop()))["state"]
    assert state.device_class == "enum"
    assert state.options == ("idle", "busy", "fault")


def test_a_number_takes_its_limits_from_the_profile_and_its_step_from_the_scale() -> None:
    """An integer register scaled by 0.5 moves in steps of 0.5 between the write limits."""
    setpoint = by_key(catalogue(workshop()))["setpoint"]
    assert (setpoint.minimum, setpoint.maximum, setpoint.step) == (5.0, 35.0, 0.5)
    assert setpoint.unit == "°C"
    assert setpoint.device_class == "temperature"


def test_a_float_number_steps_by_its_display_precision() -> None:
    """A float shown with two decimals is set in hundredths."""
    gain = by_key(catalogue(workshop()))["gain"]
    assert (gain.minimum, gain.maximum) == (0.0, 10.0)
    assert gain.step == pytest.approx(0.01)


def test_a_number_with_allowed_values_is_a_select_of_those_numbers() -> None:
    """Baud rates are picked from a list, not typed into a box."""
    rate = by_key(catalogue(workshop()))["rate"]
    assert rate.options == ("1200", "9600", "19200")
    assert rate.option_values == (1200.0, 9600.0, 19200.0)
    assert rate.unit == "Bd"


@given(
    choices=st.lists(
        st.one_of(
            st.integers(-(10**9), 10**9),
            st.decimals(-(10**6), 10**6, places=3, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=6,
        unique_by=float,
    )
)
def test_a_select_over_numbers_names_each_number_exactly(choices: list[object]) -> None:
    """Every allowed value gets its own label, and the label reads as that number."""
    listed = ", ".join(str(choice) for choice in choices)
    profile = parse_profile_text(
        f"""
family: picker
manufacturer: Test
point_sets:
  all:
    - {{key: rate, name: Rate, table: holding_register, address: 0, data_type: f32, write: {{choices: [{listed}]}}}}
variants:
  - {{key: picker, name: Picker, point_sets: [all]}}
""",
        "picker.yaml",
    )["picker"]
    rate = by_key(catalogue(profile))["rate"]
    assert len(set(rate.options)) == len(rate.options)
    assert [float(option) for option in rate.options] == list(rate.option_values)


def test_dangerous_writable_points_stay_read_only() -> None:
    """A unit address, a parity or a locked relay is shown, never offered as a control."""
    specs = by_key(catalogue(workshop()))
    assert specs["unit_address"].platform is Platform.SENSOR
    assert specs["unit_address"].minimum is None
    assert specs["parity"].platform is Platform.SENSOR
    assert specs["parity"].device_class == "enum"


@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_no_shipped_control_writes_a_dangerous_point(profile_key: str) -> None:
    """Every switch, select and number of a shipped profile's points writes it safely.

    A switch made of commands writes no point: it is as dangerous as its commands.
    """
    profile = get_profile(profile_key)
    for spec in catalogue(profile):
        controls = (Platform.SWITCH, Platform.SELECT, Platform.NUMBER)
        if spec.platform in controls and spec.source is Source.POINT:
            assert spec.point is not None
            write = profile.point(spec.point).write
            assert write is not None, spec.key
            assert not write.dangerous, spec.key


def test_commands_without_required_parameters_are_buttons() -> None:
    """A command runs from a button when every parameter has a default."""
    specs = by_key(catalogue(workshop()))
    for key in ("identify", "blink", "factory_reset"):
        assert specs[key].platform is Platform.BUTTON
        assert specs[key].source is Source.COMMAND
        assert specs[key].command == key
    assert specs["identify"].enabled_by_default
    assert not specs["identify"].dangerous


def test_a_dangerous_button_starts_disabled_and_says_it_is_dangerous() -> None:
    """A factory reset takes a deliberate step (enabling the button) before it can be pressed."""
    reset = by_key(catalogue(workshop()))["factory_reset"]
    assert reset.dangerous
    assert not reset.enabled_by_default


def test_a_command_with_a_required_parameter_has_no_entity() -> None:
    """A command that needs a value from the user is reached through the command service."""
    specs = catalogue(workshop())
    assert all(spec.command != "set_clock" and spec.key != "set_clock" for spec in specs)


def test_profile_visibility_carries_over() -> None:
    """A point the profile hides or files as diagnostic is so in Home Assistant too."""
    hidden = by_key(catalogue(workshop()))["hidden"]
    assert not hidden.enabled_by_default
    assert hidden.entity_category is EntityCategory.DIAGNOSTIC


def test_every_device_has_its_bus_statistics_as_hidden_diagnostics() -> None:
    """Requests, errors and latency are there for support, out of the way by default."""
    statistics = [s for s in catalogue(workshop()) if s.source is Source.STATISTIC]
    assert {"bus_requests", "bus_errors", "bus_latency"} <= {s.key for s in statistics}
    for spec in statistics:
        assert spec.entity_category is EntityCategory.DIAGNOSTIC
        assert not spec.enabled_by_default


# --- Vocabulary ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "unit", "precision"),
    [("apparent_power", "VA", 0), ("reactive_power", "var", 0), ("power_limit", "VA", 0)],
)
def test_ha_2025_4_gets_kva_and_kvar_in_va_and_var(key: str, unit: str, precision: int) -> None:
    """The oldest release refuses kVA and kvar: values are shown a thousand times larger."""
    spec = by_key(catalogue(workshop(), HA_2025_4))[key]
    assert spec.unit == unit
    assert spec.factor == 1000.0
    assert spec.precision == precision
    assert spec.device_class == workshop().point(key).device_class


def test_precision_drops_by_three_digits_in_va_but_not_below_zero() -> None:
    """0.001 kVA is 1 VA: three decimals become none; a single decimal cannot go negative."""
    profile = parse_profile_text(
        """
family: digits
manufacturer: Test
point_sets:
  all:
    - {key: s4, name: S4, table: holding_register, address: 0, unit: kVA, device_class: apparent_power, precision: 4}
    - {key: s5, name: S5, table: holding_register, address: 1, unit: kVA, device_class: apparent_power, precision: 5}
    - {key: s1, name: S1, table: holding_register, address: 2, unit: kvar, device_class: reactive_power, precision: 1}
    - {key: none, name: None, table: holding_register, address: 3, unit: kVA, device_class: apparent_power}
variants:
  - {key: digits, name: Digits, point_sets: [all]}
""",
        "digits.yaml",
    )["digits"]
    specs = by_key(catalogue(profile, HA_2025_4))
    assert (specs["s4"].precision, specs["s5"].precision, specs["s1"].precision) == (1, 2, 0)
    assert specs["none"].precision is None


def test_a_converted_number_keeps_its_limits_and_step_in_the_new_unit() -> None:
    """A 0..500 kVA limit in steps of 0.01 kVA is a 0..500000 VA limit in steps of 10 VA."""
    limit = by_key(catalogue(workshop(), HA_2025_4))["power_limit"]
    assert (limit.minimum, limit.maximum) == (0.0, 500_000.0)
    assert limit.step == pytest.approx(10.0)


def test_ha_2025_4_publishes_reactive_energy_without_a_device_class() -> None:
    """The release does not know reactive energy; the unit and statistics stay."""
    spec = by_key(catalogue(workshop(), HA_2025_4))["reactive_energy"]
    assert spec.device_class is None
    assert spec.unit == "kvarh"
    assert spec.factor == 1.0
    assert spec.state_class is StateClass.TOTAL_INCREASING


@pytest.mark.parametrize(
    "key", ["apparent_power", "reactive_power", "power_limit", "reactive_energy"]
)
def test_ha_2026_10_keeps_what_the_profile_says(key: str) -> None:
    """A release that knows kVA, kvar and reactive energy gets the profile's own units."""
    point = workshop().point(key)
    spec = by_key(catalogue(workshop(), HA_2026_10))[key]
    assert (spec.unit, spec.factor, spec.device_class, spec.precision) == (
        point.unit,
        1.0,
        point.device_class,
        point.precision,
    )


@pytest.mark.parametrize("vocabulary", [HA_2025_4, HA_2026_10], ids=lambda v: v.name)
@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_every_shipped_energy_entity_feeds_the_energy_dashboard(
    profile_key: str, vocabulary: Vocabulary
) -> None:
    """Energy is in kWh or Wh and counts up (total or total increasing)."""
    energy = [
        s for s in catalogue(get_profile(profile_key), vocabulary) if s.device_class == "energy"
    ]
    for spec in energy:
        assert spec.unit in ("kWh", "Wh"), spec.key
        assert spec.state_class in (StateClass.TOTAL, StateClass.TOTAL_INCREASING), spec.key


@pytest.mark.parametrize("vocabulary", [HA_2025_4, HA_2026_10], ids=lambda v: v.name)
@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_every_shipped_point_entity_speaks_the_release_vocabulary(
    profile_key: str, vocabulary: Vocabulary
) -> None:
    """No point sensor carries a device class and unit the release would refuse."""
    for spec in catalogue(get_profile(profile_key), vocabulary):
        if spec.source is not Source.POINT or spec.device_class is None:
            continue
        if spec.platform is Platform.BINARY_SENSOR:
            assert spec.device_class in BINARY_SENSOR_DEVICE_CLASSES, spec.key
        else:
            assert vocabulary.accepts(spec.device_class, spec.unit), spec.key


@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_every_shipped_enum_and_select_lists_distinct_options(profile_key: str) -> None:
    """An enum sensor has its states, and no drop-down offers the same name twice."""
    for spec in catalogue(get_profile(profile_key)):
        if spec.device_class == "enum" or spec.platform is Platform.SELECT:
            assert spec.options, spec.key
            assert len(set(spec.options)) == len(spec.options), spec.key


# --- Keys and unique ids ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "profile_key",
    shipped_profile_keys(),
)
def test_every_entity_key_is_unique_within_a_shipped_profile(profile_key: str) -> None:
    """Two entities with one key would get one unique id: Home Assistant drops the second."""
    counts = Counter(spec.key for spec in catalogue(get_profile(profile_key)))
    assert [key for key, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_every_entity_key_is_a_slug(profile_key: str) -> None:
    """Keys end up in unique ids, entity ids and MQTT topics."""
    for spec in catalogue(get_profile(profile_key)):
        assert SLUG.match(spec.key), spec.key


def test_a_device_with_a_serial_number_is_known_by_it() -> None:
    """A meter keeps its unique ids when it moves to another link or unit id."""
    here = device_uid("pro380", "12345678", "tcp_192_168_1_10_502", 1)
    there = device_uid("pro380", "12345678", "rtu_dev_ttyusb0", 7)
    assert here == there == "pro380_12345678"
    assert entity_unique_id(here, "active_power") == "pro380_12345678_active_power"


def test_two_families_with_the_same_serial_number_stay_apart() -> None:
    """Two makers may hand out the same number."""
    assert device_uid("pro380", "1001", "tcp_x_502", 1) != device_uid("apc", "1001", "tcp_x_502", 1)


def test_a_device_without_a_serial_number_is_known_by_link_and_unit() -> None:
    """Without a serial number, the link and unit id are what tells two devices apart."""
    uid = device_uid("liebert", None, "tcp_10_0_0_5_502", 3)
    assert uid == "liebert_tcp_10_0_0_5_502_u3"
    assert uid != device_uid("liebert", None, "tcp_10_0_0_5_502", 4)
    assert entity_unique_id(uid, "ups_status") == "liebert_tcp_10_0_0_5_502_u3_ups_status"


async def test_a_session_names_its_device_by_the_serial_number_it_reads() -> None:
    """The uid is unknown until the serial number is read, then built from it."""
    clock = FakeClock()
    link = FakeTransport(clock)
    meter = small_meter()
    link.add_unit(3, meter, {"serial_number": "0BADCAFE"})
    session = DeviceSession(
        make_bus(link, clock), meter, 3, clock=clock, wall_clock=clock.wall, sleep=clock.sleep
    )
    assert session.uid is None
    snapshot = await session.refresh()
    assert session.uid == snapshot.uid == "testmeter_0badcafe"


def test_a_session_names_a_device_without_a_serial_number_by_link_and_unit() -> None:
    """A profile without a serial number point gives a uid from the start."""
    clock = FakeClock()
    link = FakeTransport(clock)
    session = DeviceSession(make_bus(link, clock, RTU_LINK), workshop(), 5, clock=clock)
    assert session.uid == f"workshop_{link_id(RTU_LINK)}_u5"
    assert link.requests() == []


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("AB-12/34", "apc_ab_12_34"),
        ("  SN 0042 ", "apc_sn_0042"),
        ("ab_12_34", "apc_ab_12_34"),
        ("   ", "apc_tcp_h_502_u1"),
        ("--/--", "apc_tcp_h_502_u1"),
        ("", "apc_tcp_h_502_u1"),
    ],
)
def test_odd_serial_numbers_are_slugged_or_fall_back_to_the_link(
    serial: str, expected: str
) -> None:
    """Punctuation and case do not make a new device; a blank serial is no serial."""
    assert device_uid("apc", serial, "tcp_h_502", 1) == expected


@given(serial=st.text(max_size=40), unit=st.integers(0, 255))
def test_any_serial_number_gives_a_slug_uid(serial: str, unit: int) -> None:
    """Whatever a device reports, its uid is safe for entity ids and MQTT topics."""
    uid = device_uid("pro380", serial, "tcp_127_0_0_1_502", unit)
    assert SLUG.match(uid)
    assert uid.startswith("pro380_")


@given(text=st.text(max_size=40))
def test_slug_is_idempotent(text: str) -> None:
    """A slug slugs to itself, so ids built from ids do not drift."""
    assert slug(slug(text)) == slug(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://192.168.1.10:502", "tcp_192_168_1_10_502"),
        ("tcp://192.168.1.10:5020", "tcp_192_168_1_10_5020"),
        ("rtu+tcp://gw.local:4001", "rtutcp_gw_local_4001"),
        ("tcp://GW.Local", "tcp_gw_local_502"),
        (
            "rtu:///dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K-if00-port0",
            "rtu_dev_serial_by_id_usb_ftdi_ft232r_usb_uart_a10k_if00_port0",
        ),
    ],
)
def test_link_ids_name_the_link_as_configured(url: str, expected: str) -> None:
    """TCP by host and port, RTU over TCP apart from TCP, a serial port by its path."""
    assert link_id(parse_link(url)) == expected


def test_tcp_and_rtu_over_tcp_to_the_same_address_are_different_links() -> None:
    """A gateway's TCP port and a serial server's port carry different frames."""
    tcp = LinkSettings(kind=LinkKind.TCP, host="10.0.0.2", port=502)
    rtutcp = LinkSettings(kind=LinkKind.RTU_OVER_TCP, host="10.0.0.2", port=502)
    assert link_id(tcp) != link_id(rtutcp)


def test_a_serial_link_id_does_not_depend_on_the_line_settings() -> None:
    """Changing the baud rate, or filling in a profile's defaults, keeps the link's id."""
    by_id = "rtu:///dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10K-if00-port0"
    plain = parse_link(by_id)
    faster = parse_link(f"{by_id}?baudrate=19200&parity=N")
    resolved = plain.resolve(TransportDefaults(baudrate=38400))
    assert link_id(plain) == link_id(faster) == link_id(resolved)
    assert link_id(plain) != link_id(parse_link("rtu:///dev/ttyUSB0"))
    assert link_id(parse_link("rtu:///dev/ttyUSB0")) != link_id(parse_link("rtu:///dev/ttyUSB1"))


# --- UPS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile_key", UPS_PROFILES)
def test_a_ups_gets_its_status_in_one_word_and_in_nut_terms(profile_key: str) -> None:
    """One enum sensor with every state, NUT's status text and the active alarms."""
    specs = by_key(catalogue(get_profile(profile_key)))
    status = specs["ups_status"]
    assert status.platform is Platform.SENSOR
    assert status.device_class == "enum"
    assert set(status.options) == {
        "online",
        "on_battery",
        "low_battery",
        "on_bypass",
        "output_off",
        "calibrating",
    }
    assert specs["ups_status_text"].platform is Platform.SENSOR
    assert specs["ups_alarms"].platform is Platform.SENSOR
    assert specs["ups_alarm"].platform is Platform.BINARY_SENSOR
    assert all(
        specs[key].source is Source.UPS
        for key in ("ups_status", "ups_status_text", "ups_alarms", "ups_alarm")
    )


@pytest.mark.parametrize("profile_key", UPS_PROFILES)
def test_a_ups_gets_a_binary_sensor_for_each_flag_its_points_support(profile_key: str) -> None:
    """Derived flags exist where the map has a point for them, and stand for those points."""
    profile = get_profile(profile_key)
    specs = by_key(catalogue(profile))
    assert specs["ups_on_battery"].covers == ("on_battery",)
    for key, points in UPS_FLAGS.items():
        present = tuple(p for p in points if profile.has_point(p))
        if present:
            assert specs[key].platform is Platform.BINARY_SENSOR
            assert specs[key].covers == present
        else:
            assert key not in specs


@pytest.mark.parametrize("profile_key", UPS_PROFILES)
def test_the_flag_points_a_derived_sensor_stands_for_start_disabled(profile_key: str) -> None:
    """A flag is not shown twice: the raw point is there, but disabled."""
    specs = by_key(catalogue(get_profile(profile_key)))
    covered = {point for spec in specs.values() for point in spec.covers}
    assert "on_battery" in covered
    for key in covered:
        assert specs[key].source is Source.POINT
        assert not specs[key].enabled_by_default, key


@pytest.mark.parametrize("profile_key", UPS_PROFILES)
def test_a_derived_sensor_still_gets_the_disabled_points_it_stands_for(profile_key: str) -> None:
    """The raw flags are disabled, yet polled for the sensors that show them."""
    specs = by_key(catalogue(get_profile(profile_key)))
    for key in UPS_FLAGS:
        if key in specs:
            assert set(specs[key].covers) <= set(specs[key].reads), key
    assert "on_battery" in specs["ups_status"].reads
    assert "replace_battery" in specs["ups_alarm"].reads
    assert all(specs[key].reads == (key,) for key in specs if specs[key].source is Source.POINT)


def test_the_low_battery_sensor_of_a_map_with_both_flags_stands_for_both() -> None:
    """A map with a low-battery flag and a shutdown-imminent flag folds both into one sensor."""
    profile = parse_profile_text(
        """
family: tinyups
manufacturer: Test
defaults: {table: discrete_input}
point_sets:
  all:
    - {key: on_battery, name: On battery, address: 0}
    - {key: low_battery, name: Low battery, address: 1}
    - {key: shutdown_imminent, name: Shutdown imminent, address: 2}
variants:
  - {key: tinyups, name: Tiny UPS, point_sets: [all]}
""",
        "tinyups.yaml",
    )["tinyups"]
    specs = by_key(catalogue(profile))
    assert specs["ups_low_battery"].covers == ("low_battery", "shutdown_imminent")
    assert not specs["low_battery"].enabled_by_default
    assert "ups_replace_battery" not in specs


@pytest.mark.parametrize("profile_key", ["pro380", "cm4000", "egx100"])
def test_a_meter_or_gateway_gets_no_ups_entities(profile_key: str) -> None:
    """Only a device that reports whether it runs on battery is a UPS."""
    specs = catalogue(get_profile(profile_key))
    assert [s.key for s in specs if s.source is Source.UPS] == []
    assert all(not s.key.startswith("ups_") for s in specs)


@pytest.mark.parametrize("profile_key", shipped_profile_keys())
def test_no_two_entities_of_a_device_share_a_name(profile_key: str) -> None:
    """A UPS's own "On battery" bit and the derived "On battery" are told apart by name."""
    specs = catalogue(get_profile(profile_key))
    names = [(spec.platform, spec.name) for spec in specs]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
