"""A profile file with mistakes is refused with every mistake named: file, line, item and field.

Each test here holds a mistake the loader once let through or crashed on: numbers
too large for Python's floats, NaN and infinity, keys given twice, points that
overlap, a write range upside down, writes to read-only tables, limits on text
points, and messages in Python's words instead of the profile's.
"""

from __future__ import annotations

from pathlib import Path
import re

import pytest

from powerbus.errors import ProfileError
from powerbus.models import Table
from powerbus.profile import load_profile_file, parse_profile_text

PROFILES_DIR = Path(__file__).parents[2] / "custom_components/powerbus/engine/profiles"

# A small family with a field of every kind that holds a number; no name holds a digit.
TINY = """
family: tiny
manufacturer: Test
addressing: pdu
transport: {unit_id: 1, port: 502}
limits: {max_gap: 4, timeout: 0.5, readable: [{table: holding_register, start: 0, end: 40}]}
defaults: {table: holding_register}
point_sets:
  all:
    - {key: voltage, name: Voltage, address: 0, data_type: u32, scale: 0.1, offset: 0.5, precision: 1, sentinels: [4294967295]}
    - {key: mode, name: Mode, address: 2, options: {0: auto, 1: manual}, bit_field: [0, 3]}
    - {key: alarm, name: Alarm, address: 3, bit: 4}
    - {key: limit, name: Limit, address: 4, write: {min: 0, max: 100, choices: [5, 10]}}
    - {key: label, name: Label, address: 5, data_type: string, count: 4, write: {}}
commands:
  - key: configure
    name: Configure
    params:
      - {key: level, name: Level, kind: int, min: 1, max: 50, default: 10, step: 1}
      - {key: speed, name: Speed, kind: choice, choices: {slow: 1, fast: 2}}
    steps:
      - write: {point: limit, value: {param: level, factor: 2}}
      - write: {address: 30, values: [1, {param: speed}]}
      - wait: 0.5
      - check: {address: 31, outcomes: [{value: 0, key: done, success: true}], within: 2, interval: 0.5}
variants:
  - key: tiny
    name: Tiny
    point_sets: [all]
    commands: [configure]
    detect: [{address: 0, count: 2, expect: [0, 1]}]
"""
NUMBER = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w.])")
NUMBERS = [match.span() for match in NUMBER.finditer(TINY)]


def problems(text: str, file_name: str = "tiny.yaml") -> list[str]:
    """Load ``text``; return the lines of the error it must raise."""
    with pytest.raises(ProfileError) as caught:
        parse_profile_text(text, file_name)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    return lines


def with_point(line: str) -> str:
    """Return TINY with one more point in its point set."""
    return TINY.replace("commands:\n", f"    - {line}\ncommands:\n", 1)


def test_the_example_loads() -> None:
    """Every mistake below is made in a file that is otherwise right."""
    profile = parse_profile_text(TINY, "tiny.yaml")["tiny"]
    assert [point.key for point in profile.points] == ["voltage", "mode", "alarm", "limit", "label"]
    assert len(NUMBERS) > 40


# --- Numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("span", NUMBERS, ids=lambda span: f"at {span[0]}")
@pytest.mark.parametrize("odd", ["9" * 400, "-" + "9" * 400, ".nan", ".inf", "-.inf"])
def test_an_odd_number_in_any_number_field_is_a_profile_error(
    span: tuple[int, int], odd: str
) -> None:
    """A 400-digit integer, NaN or infinity anywhere a number stands names the field."""
    start, end = span
    lines = problems(TINY[:start] + odd + TINY[end:])
    assert all(line.startswith("tiny.yaml, ") for line in lines)
    assert any("field '" in line for line in lines)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("scale: 0.1", "scale: .nan", "point 'voltage', field 'scale'"),
        ("scale: 0.1", "scale: .inf", "point 'voltage', field 'scale'"),
        ("scale: 0.1", "scale: '1e999'", "point 'voltage', field 'scale'"),
        ("offset: 0.5", "offset: -.inf", "point 'voltage', field 'offset'"),
        (
            "write: {min: 0, max: 100",
            "write: {min: .nan, max: 100",
            "point 'limit', field 'write.min'",
        ),
        ("wait: 0.5", "wait: .nan", "command 'configure', field 'steps[2].wait'"),
        ("timeout: 0.5", "timeout: .nan", "field 'limits.timeout'"),
        ("factor: 2", "factor: .inf", "command 'configure', field 'steps[0].write.value.factor'"),
    ],
)
def test_nan_and_infinity_are_refused(old: str, new: str, where: str) -> None:
    """NaN made every value NaN yet valid, and NaN write limits switched the limits off."""
    assert old in TINY
    assert f"tiny.yaml, {where}: must be a finite number" in "\n".join(
        problems(TINY.replace(old, new))
    )


def test_nan_write_limits_are_both_named() -> None:
    """``write: {min: .nan, max: .nan}`` is refused for each limit."""
    lines = problems(TINY.replace("write: {min: 0, max: 100", "write: {min: .nan, max: .nan"))
    assert lines == [
        "tiny.yaml, point 'limit', field 'write.max': must be a finite number, not nan",
        "tiny.yaml, point 'limit', field 'write.min': must be a finite number, not nan",
    ]


def test_true_is_not_a_number() -> None:
    """YAML's ``true`` is a Python int; as an address it is a mistake."""
    assert problems(TINY.replace("address: 3,", "address: true,")) == [
        "tiny.yaml, point 'alarm', field 'address': expected an integer"
    ]


def test_a_file_that_is_not_utf8_is_a_profile_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 once escaped as UnicodeDecodeError."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TINY.replace("Voltage", "Spannung \xb0").encode("latin-1"))
    with pytest.raises(
        ProfileError, match=rf"^{re.escape(str(path))}: is not UTF-8 text \(byte 0xB0"
    ):
        load_profile_file(path)


@pytest.mark.parametrize(
    "tagged", ["!!float", "!!int", "!!int x", "!!timestamp x", "!!timestamp 2026-13-45"]
)
def test_odd_yaml_tags_are_profile_errors(tagged: str) -> None:
    """PyYAML raised IndexError and AttributeError on these; the loader names the file."""
    lines = problems(TINY.replace("scale: 0.1", f"scale: {tagged}"))
    assert len(lines) == 1
    assert re.match(r"tiny\.yaml(, line 10)?: not valid YAML: ", lines[0])


# --- Keys given twice ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "scale: 0.1, offset",
            "scale: 0.1, scale: 10, offset",
            "tiny.yaml, line 10, point 'voltage', field 'scale': 'scale' is given twice on this line",
        ),
        (
            "manufacturer: Test\n",
            "manufacturer: Test\nnotes: []\nmanufacturer: Other\n",
            "tiny.yaml, line 5, field 'manufacturer': 'manufacturer' is given twice (first on line 3)",
        ),
        (
            "    name: Configure\n",
            "    name: Configure\n    name: Set up\n",
            (
                "tiny.yaml, line 18, command 'configure', field 'name': 'name' is given twice "
                "(first on line 17)"
            ),
        ),
        (
            "options: {0: auto, 1: manual}",
            "options: {0: auto, 1: manual, 1: hand}",
            "tiny.yaml, line 11, point 'mode', field 'options.1': '1' is given twice on this line",
        ),
        (
            "    commands: [configure]\n",
            "    commands: [configure]\n    commands: []\n",
            (
                "tiny.yaml, line 31, variant 'tiny', field 'commands': 'commands' is given twice "
                "(first on line 30)"
            ),
        ),
        (
            "write: {point: limit, value",
            "write: {point: limit, point: label, value",
            (
                "tiny.yaml, line 22, command 'configure', field 'steps[0].write.point': 'point' is "
                "given twice on this line"
            ),
        ),
    ],
)
def test_a_key_given_twice_is_refused_naming_line_item_and_field(
    old: str, new: str, expected: str
) -> None:
    """YAML keeps the last of two equal keys silently; the loader names both lines instead."""
    assert old in TINY
    assert expected in problems(TINY.replace(old, new, 1))


def test_a_yaml_merge_may_override_what_it_merges() -> None:
    """``<<: *base`` followed by one of its keys is YAML's way to override, not a repeat."""
    text = TINY.replace(
        "    - {key: alarm, name: Alarm, address: 3, bit: 4}",
        "    - &alarm {key: alarm, name: Alarm, address: 3, bit: 4}\n"
        "    - {<<: *alarm, key: alarm_high, name: Alarm high, bit: 5}",
    )
    profile = parse_profile_text(text, "tiny.yaml")["tiny"]
    assert profile.point("alarm_high").bit == 5


# --- Overlapping points -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "others"),
    [
        ("{key: copy, name: Copy, address: 4}", ["limit"]),
        ("{key: low_word, name: Low word, address: 1}", ["voltage"]),
        ("{key: wide, name: Wide, address: 3, data_type: u32}", ["alarm", "limit"]),
        ("{key: mode_bit, name: Mode bit, address: 2, bit: 3}", ["mode"]),
        ("{key: whole, name: Whole, address: 3, data_type: hex, count: 1}", ["alarm"]),
    ],
    ids=["same register", "inside a u32", "across two points", "a shared bit", "bit and register"],
)
def test_points_that_overlap_without_a_view_are_refused(line: str, others: list[str]) -> None:
    """One register read as two values is a typing mistake unless a view is declared."""
    key = line.split(",", maxsplit=1)[0].removeprefix("{key: ")
    overlaps = re.compile(
        r"tiny.yaml, point '(\w+)', field 'address': reads a register \(or bit\) of point '(\w+)' "
        r"too; if both show the same value, declare one a view of the other \(view_of\)"
    )
    pairs = []
    for problem in problems(with_point(line)):
        match = overlaps.fullmatch(problem)
        assert match is not None, problem
        pairs.append(sorted(match.groups()))
    assert sorted(pairs) == [sorted([key, other]) for other in others]


@pytest.mark.parametrize(
    "line",
    [
        "{key: alarm_low, name: Alarm low, address: 3, bit: 5}",
        "{key: mode_high, name: Mode high, address: 2, bit_field: [4, 7]}",
        "{key: relay, name: Relay, address: 4, table: coil}",
    ],
    ids=["other bit", "other bits", "other table"],
)
def test_points_that_share_no_bit_of_a_table_do_not_overlap(line: str) -> None:
    """Bit selections of one register read different bits; a coil is not a register."""
    assert len(parse_profile_text(with_point(line), "tiny.yaml")["tiny"].points) == 6


def test_declared_views_may_overlap_what_they_view_and_each_other() -> None:
    """A status register shown raw and as flags: the flags are views of it."""
    text = TINY.replace(
        "    - {key: alarm, name: Alarm, address: 3, bit: 4}",
        "    - {key: status, name: Status, address: 3, data_type: hex, count: 1}\n"
        "    - {key: alarm, name: Alarm, address: 3, bit: 4, view_of: status}\n"
        "    - {key: alarms, name: Alarms, address: 3, bit_field: [4, 5], view_of: status}",
    )
    profile = parse_profile_text(text, "tiny.yaml")["tiny"]
    assert profile.point("alarm").view_of == "status"
    assert profile.point("status").view_of is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "{key: flag, name: Flag, address: 3, bit: 4, view_of: nothing}",
            "point 'flag', field 'view_of': names no point of the variant: 'nothing'",
        ),
        (
            "{key: flag, name: Flag, address: 3, bit: 5, view_of: alarm}",
            "point 'flag', field 'view_of': reads registers or bits that 'alarm' does not read",
        ),
        (
            "{key: flag, name: Flag, address: 1, view_of: limit}",
            "point 'flag', field 'view_of': reads registers or bits that 'limit' does not read",
        ),
        (
            "{key: flag, name: Flag, address: 3, bit: 4, view_of: flag}",
            "point 'flag', field 'view_of': a point cannot be a view of itself",
        ),
    ],
    ids=["unknown", "other bit", "other register", "itself"],
)
def test_a_view_must_read_within_the_point_it_names(line: str, message: str) -> None:
    """A view names a point of its variant and reads nothing that point does not read."""
    assert f"tiny.yaml, {message}" in problems(with_point(line))


def test_a_view_names_the_viewed_point_not_another_view() -> None:
    """Views hang off one point, so the overlap rule stays simple to read."""
    text = TINY.replace(
        "    - {key: alarm, name: Alarm, address: 3, bit: 4}",
        "    - {key: status, name: Status, address: 3, data_type: hex, count: 1}\n"
        "    - {key: alarms, name: Alarms, address: 3, bit_field: [4, 5], view_of: status}\n"
        "    - {key: alarm, name: Alarm, address: 3, bit: 4, view_of: alarms}",
    )
    assert (
        "tiny.yaml, point 'alarm', field 'view_of': 'alarms' is itself a view of 'status'; "
        "name that point"
    ) in problems(text)


def test_the_shipped_status_flags_are_declared_views() -> None:
    """The APC status bits read the registers of the raw status points, as declared views."""
    text = (PROFILES_DIR / "apc.yaml").read_text(encoding="utf-8")
    online = "bit: 1, view_of: ups_status_flags,"
    assert online in text
    lines = problems(text.replace(online, "bit: 1,"), "apc.yaml")
    assert lines == [
        (
            "apc.yaml, point 'online', field 'address': reads a register (or bit) of point "
            "'ups_status_flags' too; if both show the same value, declare one a view of the other "
            "(view_of)"
        )
    ]


# --- Writes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "write: {min: 0, max: 100",
            "write: {min: 100, max: 0",
            "point 'limit', field 'write.min': min is above max",
        ),
        (
            "{key: limit, name: Limit, address: 4,",
            "{key: limit, name: Limit, address: 4, table: input_register,",
            "point 'limit', field 'write': input registers are read-only",
        ),
        (
            "{key: alarm, name: Alarm, address: 3, bit: 4}",
            "{key: alarm, name: Alarm, address: 3, table: discrete_input, write: {}}",
            "point 'alarm', field 'write': discrete inputs are read-only",
        ),
        (
            "data_type: string, count: 4, write: {}",
            "data_type: string, count: 4, write: {choices: [1]}",
            "point 'label', field 'write.choices': a string point takes no choices",
        ),
        (
            "data_type: string, count: 4, write: {}",
            "data_type: hex, count: 4, write: {min: 0}",
            "point 'label', field 'write.min': a hex point takes no min",
        ),
        (
            "kind: int, min: 1, max: 50",
            "kind: int, min: 50, max: 1",
            "command 'configure', field 'params[0].min': min is above max",
        ),
        (
            "write: {address: 30, values",
            "write: {address: 30, table: input_register, values",
            "command 'configure', field 'steps[1].write.table': input registers are read-only",
        ),
    ],
    ids=[
        "range upside down",
        "input register",
        "discrete input",
        "string choices",
        "hex minimum",
        "parameter range",
        "raw write to an input register",
    ],
)
def test_write_rules_that_cannot_be_kept_are_refused(old: str, new: str, expected: str) -> None:
    """A write rule the device or the entity could never honour is a mistake in the file."""
    assert old in TINY
    assert f"tiny.yaml, {expected}" in problems(TINY.replace(old, new))


def test_a_text_point_may_be_written_without_limits() -> None:
    """A writable name or label takes text: no min, max or choices, and that is fine."""
    label = parse_profile_text(TINY, "tiny.yaml")["tiny"].point("label")
    assert label.writable
    assert label.table is Table.HOLDING_REGISTER


# --- Reporting ----------------------------------------------------------------------------------
def test_every_problem_of_a_file_is_reported_one_line_each() -> None:
    """A key given twice, a wrong type, a dangling reference and an overlap, all at once."""
    text = (
        with_point("{key: copy, name: Copy, address: 4}")
        .replace("scale: 0.1, offset", "scale: 0.1, scale: 1, offset")
        .replace("data_type: string", "data_type: text")
        .replace("{point: limit, value", "{point: limits, value")
    )
    lines = problems(text)
    assert [line.split(": ", 1)[0] for line in lines] == [
        "tiny.yaml, line 10, point 'voltage', field 'scale'",
        "tiny.yaml, point 'label', field 'data_type'",
        "tiny.yaml, point 'copy', field 'address'",
        "tiny.yaml, command 'configure', field 'steps[0].write'",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("table: holding_register}", "table: holding}"),
        ("data_type: u32", "data_type: uint32"),
        ("bit_field: [0, 3]", "bit_field: [0, 3], word_order: abcd"),
        ("addressing: pdu", "addressing: zero_based"),
        ("kind: choice", "kind: enum"),
        ("address: 3, bit: 4", "address: 3, bit: 4, group: often"),
        ("address: 3, bit: 4", "address: 3, bit: 4, confidence: high"),
        ("precision: 1", "precision: one"),
        ("Voltage, address", "[Voltage], address"),
        ("{key: speed", "{key: Speed"),
    ],
)
def test_messages_speak_the_profile_s_words_not_python_s(old: str, new: str) -> None:
    """No message names a Python class; an unknown name lists the names allowed."""
    assert old in TINY
    text = "\n".join(problems(TINY.replace(old, new, 1)))
    for python_word in (
        "DataType",
        "Table",
        "WordOrder",
        "Addressing",
        "ParamKind",
        "PollGroup",
        "Confidence",
        "expected str",
        "expected int",
        "dictionary",
        "string or buffer",
    ):
        assert python_word not in text
    if "value must be one of" in text:
        assert re.search(r"value must be one of \['[a-z_A-Z0-9]+'", text)


def test_a_mistake_inside_a_command_says_command() -> None:
    """The command is named as a command, the parameter and step by their place."""
    lines = problems(
        TINY.replace("{param: speed}", "{param: pace}").replace("kind: int", "kind: integer")
    )
    assert lines
    assert all(line.startswith("tiny.yaml, command 'configure', field '") for line in lines)
    assert not any("point 'configure'" in line for line in lines)


def test_errors_name_the_file_as_the_user_gave_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``./profiles/my.yaml`` stays ``./profiles/my.yaml`` in the message."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "my.yaml").write_text(TINY.replace("scale: 0.1", "scale: 0"))
    with pytest.raises(ProfileError) as caught:
        load_profile_file("./profiles/my.yaml")
    assert str(caught.value) == (
        "./profiles/my.yaml, point 'voltage', field 'scale': scale 0 would erase every value"
    )
    assert caught.value.file == "./profiles/my.yaml"
