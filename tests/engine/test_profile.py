"""Profiles load into typed models, and a broken profile names file, point and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from powerbus.errors import ProfileError
from powerbus.models import (
    DataType,
    EntityCategory,
    ParamKind,
    PollGroup,
    ProbeExpectation,
    StateClass,
    Table,
)
from powerbus.profile import builtin_profiles, get_profile, load_profile_file, parse_profile_text

PRO380_FILE = Path(__file__).parents[2] / "custom_components/powerbus/engine/profiles/pro380.yaml"
PRO380 = PRO380_FILE.read_text(encoding="utf-8")
POWERLOGIC = (PRO380_FILE.parent / "powerlogic.yaml").read_text(encoding="utf-8")
LIMIT_REGISTER = "{key: register, name: Limit register, kind: int, min: 3900, max: 3950}"

MINIMAL = """
family: tiny
manufacturer: Test
addressing: {addressing}
point_sets:
  all:
    - {{key: value, name: Value, table: {table}, address: {address}}}
variants:
  - {{key: tiny, name: Tiny, point_sets: [all]}}
"""

NAMED_KINDS = """
family: tiny
manufacturer: Test
point_sets:
  all:
    - {key: energy, name: Energy, table: holding_register, address: 0, data_type: u32, state_class: total_increasing}
    - {key: unit_id, name: Unit id, table: holding_register, address: 2, entity_category: config, write: {min: 1, max: 247}}
commands:
  - key: configure
    name: Configure
    params:
      - {key: seconds, name: Seconds, kind: int, min: 1, max: 30}
      - {key: level, name: Level, kind: float}
      - {key: enabled, name: Enabled, kind: bool}
      - {key: mode, name: Mode, kind: choice, choices: {slow: 1, fast: 2}}
      - {key: words, name: Words, kind: int_list, length: 2}
    steps:
      - write: {point: unit_id, value: {param: seconds}}
variants:
  - key: tiny
    name: Tiny
    point_sets: [all]
    commands: [configure]
    detect:
      - {table: holding_register, address: 0}
      - {table: holding_register, address: 9, expect: exception}
      - {table: holding_register, address: 0, count: 2, expect: [0x1234, 0]}
"""


def test_every_shipped_profile_loads() -> None:
    """Every family file validates, and variant keys are unique across families."""
    profiles = builtin_profiles()
    assert {"pro380", "pro380_legacy"} <= set(profiles)
    for profile in profiles.values():
        keys = [p.key for p in profile.points]
        assert len(keys) == len(set(keys)), profile.key


def test_pro380_map_as_the_reference_gives_it() -> None:
    """Spot checks of the PRO380 map: addresses, types, units and groups."""
    profile = get_profile("pro380")
    assert len(profile.points) == 88
    serial = profile.point("serial_number")
    assert (serial.address, serial.count, serial.data_type, serial.group) == (
        0x4000,
        2,
        DataType.HEX,
        PollGroup.ONCE,
    )
    assert profile.point("voltage_l1").address == 0x5002
    assert profile.point("active_power").unit == "kW"
    assert profile.point("export_active_energy_l1").address == 0x601E
    day = profile.point("day_counter_energy")
    assert (day.address, day.data_type, day.writable) == (0x6049, DataType.F32, True)
    assert profile.point("tariff").options == {1: "t1", 2: "t2"}
    assert profile.serial_point == "serial_number"
    assert get_profile("pro380_legacy").point("serial_number").address == 0x1000


@pytest.mark.parametrize(
    ("addressing", "table", "address", "expected_table", "expected_address"),
    [
        ("pdu", "holding_register", 50, Table.HOLDING_REGISTER, 50),
        ("register_number", "holding_register", 1700, Table.HOLDING_REGISTER, 1699),
        ("modicon", "holding_register", 40051, Table.HOLDING_REGISTER, 50),
        ("modicon", "input_register", 30112, Table.INPUT_REGISTER, 111),
        ("modicon", "discrete_input", 10128, Table.DISCRETE_INPUT, 127),
    ],
)
def test_addressing_conventions_resolve_to_pdu_addresses(
    addressing: str, table: str, address: int, expected_table: Table, expected_address: int
) -> None:
    """Register numbers are one-based, Modicon references name their table."""
    text = MINIMAL.format(addressing=addressing, table=table, address=address)
    point = parse_profile_text(text, "tiny.yaml")["tiny"].point("value")
    assert (point.table, point.address) == (expected_table, expected_address)


def test_modicon_reference_must_agree_with_a_stated_table() -> None:
    """A 3xxxx reference declared as a holding register is refused."""
    text = MINIMAL.format(addressing="modicon", table="holding_register", address=30112)
    with pytest.raises(ProfileError, match=r"tiny.yaml, point 'value', field 'table'"):
        parse_profile_text(text, "tiny.yaml")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "data_type: bcd\n      count: 1\n      unit: s",
            "data_type: bcdx\n      count: 1\n      unit: s",
            r"pro380.yaml, point 'lcd_cycle_time', field 'data_type'",
        ),
        (
            "    - key: voltage_l2\n      name: Voltage L2\n",
            "    - key: voltage_l2\n",
            r"pro380.yaml, point 'voltage_l2', field 'name': required field missing",
        ),
        (
            "address: 0x5030",
            "address: 0x5032",
            r"pro380.yaml, point 'power_factor_l3', field 'address': lies outside every readable range",
        ),
        (
            "      precision: 1\n      group: fast\n      enabled_by_default: false\n      confidence: INF",
            "      precison: 1\n      group: fast\n      enabled_by_default: false\n      confidence: INF",
            r"pro380.yaml, point 'voltage', field 'precison': unknown field",
        ),
        (
            "{point: s0_rate, value: {param: rate}}",
            "{point: s0_rat, value: {param: rate}}",
            r"pro380.yaml, command 'set_s0_rate', field 'steps\[0\].write': names no point",
        ),
        (
            "{point: s0_rate, value: {param: rate}}",
            "{point: s0_rate, value: {param: speed}}",
            r"command 'set_s0_rate', field 'steps\[0\].write': names no parameter: 'speed'",
        ),
        (
            "      data_type: s16\n      group: slow\n      entity_category: config\n      enabled_by_default: false\n      write: {min: 1, max: 247, dangerous: true}",
            "      data_type: u32\n      count: 1\n      group: slow\n      entity_category: config\n      enabled_by_default: false\n      write: {min: 1, max: 247, dangerous: true}",
            r"point 'modbus_id', field 'count': type u32 occupies 2 register\(s\), not 1",
        ),
        (
            "  - key: reset_day_counter\n",
            "  - key: set_tariff\n",
            r"command 'set_tariff', field 'key': command key is used twice",
        ),
        (
            "point_sets: [identity, configuration, instantaneous, energy]",
            "point_sets: [identity, configuration, instantaneous, energy, identity]",
            r"point 'serial_number', field 'key': key is used twice",
        ),
        (
            "    - key: tariff\n      name: Active tariff\n      address: 0x6048\n      data_type: s16\n      options: {1: t1, 2: t2}",
            "    - key: tariff\n      name: Active tariff\n      address: 0x6048\n      data_type: f32\n      options: {1: t1, 2: t2}",
            r"point 'tariff', field 'options': options need an integer type",
        ),
    ],
)
def test_broken_profile_names_file_point_and_field(old: str, new: str, message: str) -> None:
    """Each kind of mistake fails at load time with a message that leads to it."""
    assert old in PRO380
    with pytest.raises(ProfileError, match=message):
        parse_profile_text(PRO380.replace(old, new, 1), "pro380.yaml")


@pytest.mark.parametrize(
    "replacement",
    [
        "{key: register, name: Limit register, kind: int, min: 3900}",
        "{key: register, name: Limit register, kind: int, max: 3950}",
        "{key: register, name: Limit register, kind: int}",
        "{key: register, name: Limit register, kind: float, min: 3900, max: 3950}",
        "{key: register, name: Limit register, kind: int, min: 3900, max: 3950, choices: {all: 0}}",
    ],
    ids=["no max", "no min", "no range", "float", "choices"],
)
def test_address_parameter_must_declare_its_range(replacement: str) -> None:
    """A parameter that names a register must be an int with min and max, or the file is refused."""
    assert LIMIT_REGISTER in POWERLOGIC
    with pytest.raises(
        ProfileError,
        match=r"powerlogic.yaml, command 'set_en50160_limit', field 'steps\[1\].write.address': "
        r"parameter 'register' names a register, so it must be an int with min and max",
    ):
        parse_profile_text(POWERLOGIC.replace(LIMIT_REGISTER, replacement), "powerlogic.yaml")


def test_address_parameter_range_must_be_register_numbers() -> None:
    """Register numbers start at 1, so a range from 0 cannot be resolved and is refused."""
    text = POWERLOGIC.replace(LIMIT_REGISTER, LIMIT_REGISTER.replace("min: 3900", "min: 0"))
    with pytest.raises(
        ProfileError, match=r"field 'steps\[1\].write.address': register numbers start"
    ):
        parse_profile_text(text, "powerlogic.yaml")


def test_only_choice_and_int_parameters_name_values() -> None:
    """Named values on a float parameter would never be used, so the file is refused."""
    limit = "{key: value, name: Limit, kind: int, min: 0, max: 32767, choices: {disabled: -32768}}"
    assert limit in POWERLOGIC
    text = POWERLOGIC.replace(limit, limit.replace("kind: int", "kind: float"))
    with pytest.raises(
        ProfileError,
        match=r"command 'set_en50160_limit', field 'params\[1\]': only choice and int parameters",
    ):
        parse_profile_text(text, "powerlogic.yaml")


def test_named_kinds_load_as_enums() -> None:
    """Parameter kinds, probe expectations and Home Assistant hints become enum members."""
    profile = parse_profile_text(NAMED_KINDS, "tiny.yaml")["tiny"]

    kinds = [param.kind for param in profile.command("configure").params]
    assert kinds == list(ParamKind)
    assert all(isinstance(kind, ParamKind) for kind in kinds)
    assert [(probe.expect, probe.values) for probe in profile.detect] == [
        (ProbeExpectation.ANSWER, ()),
        (ProbeExpectation.EXCEPTION, ()),
        (ProbeExpectation.VALUES, (0x1234, 0)),
    ]
    assert all(isinstance(probe.expect, ProbeExpectation) for probe in profile.detect)
    energy, unit_id = profile.point("energy"), profile.point("unit_id")
    assert energy.state_class is StateClass.TOTAL_INCREASING
    assert energy.entity_category is None
    assert unit_id.state_class is None
    assert unit_id.entity_category is EntityCategory.CONFIG


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "kind: bool",
            "kind: boolean",
            (
                r"command 'configure', field 'params\[2\].kind': "
                r"value must be one of \['bool', 'choice', 'float', 'int', 'int_list'\]"
            ),
        ),
        (
            "expect: exception",
            "expect: refused",
            (
                r"variant 'tiny', field 'detect\[1\].expect': "
                r"expected 'answer', 'exception', a list of register values, \{in: \[\.\.\.\]\}, "
                r"\{range: \[lowest, highest\]\} or \{unit_id_plus: number\}"
            ),
        ),
        (
            "entity_category: config",
            "entity_category: setup",
            (
                r"point 'unit_id', field 'entity_category': value must be one of "
                r"\['config', 'diagnostic'\]"
            ),
        ),
        (
            "state_class: total_increasing",
            "state_class: sum",
            r"point 'energy', field 'state_class': value must be one of \['measurement', 'total', ",
        ),
    ],
)
def test_an_unknown_kind_lists_the_known_ones(old: str, new: str, message: str) -> None:
    """A misspelt kind is refused with the names that are allowed."""
    with pytest.raises(ProfileError, match=message):
        parse_profile_text(NAMED_KINDS.replace(old, new), "tiny.yaml")


def test_unreadable_file_and_bad_yaml_are_profile_errors(tmp_path: Path) -> None:
    """A missing file or broken YAML is a ProfileError naming the file, not a traceback."""
    with pytest.raises(ProfileError, match="missing.yaml: cannot read the file"):
        load_profile_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("family: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="broken.yaml, line 2: not valid YAML"):
        load_profile_file(broken)


def test_unknown_profile_lists_the_known_ones() -> None:
    """Asking for a profile that does not exist says which ones do."""
    with pytest.raises(ProfileError, match=r"no profile 'pro390' \(known: .*pro380"):
        get_profile("pro390")


def test_a_key_has_one_name_in_every_shipped_profile() -> None:
    """A point or command key means one thing everywhere: its entity has one translated name."""
    names: dict[str, set[str]] = {}
    for profile in builtin_profiles().values():
        for point in profile.points:
            names.setdefault(point.key, set()).add(point.name)
        for command in profile.commands:
            names.setdefault(f"command {command.key}", set()).add(command.name)
    assert {key: sorted(found) for key, found in names.items() if len(found) > 1} == {}


def test_a_point_and_a_command_may_not_share_a_key() -> None:
    """Their entities would get one unique id; the loader names the key instead."""
    text = """
family: clash
manufacturer: Test
addressing: pdu
defaults: {table: holding_register}
point_sets:
  all:
    - {key: reset, name: Reset state, address: 1}
commands:
  - key: reset
    name: Reset
    steps:
      - write: {address: 2, value: 1}
variants:
  - {key: clash, name: Clash, models: [C], point_sets: [all], commands: [reset]}
"""
    with pytest.raises(ProfileError, match=r"point 'reset', field 'key'.*share the key"):
        parse_profile_text(text, "clash.yaml")
