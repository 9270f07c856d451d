"""Detection rules: what a profile file may say, and how a unit's answers are judged by it.

The units here live on the fake link (``fakes.py``): a register image per table, ranges a
unit refuses with "illegal data address", silent units. Nothing waits: the fake clock moves.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings, strategies as st
import pytest

from powerbus.bus import RetryPolicy
from powerbus.errors import ProfileError, RequestTimeoutError
from powerbus.identify import recognise
from powerbus.models import AllOf, AnyOf, Probe, ProbeExpectation, Profile, Table, UnitIds
from powerbus.profile import parse_profile_text

from .fakes import FakeClock, FakeTransport, SimUnit, make_bus

pytestmark = pytest.mark.hardware_free

HR = Table.HOLDING_REGISTER
TEMPLATE = """
family: demo
manufacturer: Demo Instruments
addressing: pdu
{family_rules}
point_sets:
  all:
    - {{key: value, name: Value, address: 0, table: holding_register}}
variants:
  - key: demo_a
    name: Demo A
    point_sets: [all]
{rules_a}
  - key: demo_b
    name: Demo B
    point_sets: [all]
{rules_b}
"""


def family(family_rules: str = "", rules_a: str = "", rules_b: str = "") -> dict[str, Profile]:
    """Load a two-variant demo family with the ``detect`` rules given (YAML flow lists)."""
    return parse_profile_text(
        TEMPLATE.format(
            family_rules=f"detect: {family_rules}" if family_rules else "",
            rules_a=f"    detect: {rules_a}" if rules_a else "",
            rules_b=f"    detect: {rules_b}" if rules_b else "",
        ),
        "demo.yaml",
    )


def unit_with(registers: dict[int, int], *, refused: tuple[int, int] | None = None) -> SimUnit:
    """Make a unit holding ``registers`` (holding registers), refusing one range if given."""
    unit = SimUnit()
    for address, value in registers.items():
        unit.put_raw(HR, address, [value])
    if refused is not None:
        unit.refuse(HR, *refused)
    return unit


async def candidates(unit: SimUnit, profiles: dict[str, Profile], at: int = 1) -> list[str]:
    """Recognise ``unit`` (served at unit id ``at``) among ``profiles``; return the keys found."""
    clock = FakeClock()
    link = FakeTransport(clock)
    link.units[at] = unit
    bus = make_bus(link, clock, policy=RetryPolicy(retries=0))
    await bus.open()
    return [profile.key for profile in await recognise(bus, at, profiles.values())]


# --- The format -------------------------------------------------------------------------------


def test_every_kind_of_rule_loads() -> None:
    """Values in a set or a range, the unit id, unit ids and groups become rules of their own."""
    profiles = family(
        family_rules="[{unit_ids: [254, 255]}]",
        rules_a=(
            "[{address: 5, expect: {in: [15170, 15172]}},"
            " {address: 6, count: 2, expect: {range: [0x1000, 0x3FFF]}},"
            " {address: 60000, expect: {unit_id_plus: -1}},"
            " {any: [{address: 7}, {address: 8, expect: exception}]},"
            " {all: [{address: 9, table: input_register}]}]"
        ),
    )
    demo_a = profiles["demo_a"]

    assert profiles["demo_b"].family_detect == demo_a.family_detect == (UnitIds(units=(254, 255)),)
    assert demo_a.detect == (
        Probe(table=HR, address=5, count=1, expect=ProbeExpectation.ONE_OF, values=(15170, 15172)),
        Probe(
            table=HR,
            address=6,
            count=2,
            expect=ProbeExpectation.RANGE,
            minimum=0x1000,
            maximum=0x3FFF,
        ),
        Probe(table=HR, address=60000, count=1, expect=ProbeExpectation.UNIT_ID, offset=-1),
        AnyOf(
            rules=(
                Probe(table=HR, address=7, count=1),
                Probe(table=HR, address=8, count=1, expect=ProbeExpectation.EXCEPTION),
            )
        ),
        AllOf(rules=(Probe(table=Table.INPUT_REGISTER, address=9, count=1),)),
    )
    assert demo_a.recognisable
    assert profiles["demo_b"].recognisable


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[{address: 5, count: 5, expect: {in: [1]}}]", "a value test reads at most 4 registers"),
        ("[{address: 5, expect: {range: [9, 1]}}]", "a range runs from lowest to highest"),
        ("[{address: 5, expect: {in: [-1]}}]", "no value is negative"),
        ("[{address: 5, count: 2, expect: [1]}]", "lists 1 values for a read of 2"),
        ("[{unit_ids: [300]}]", "must be at most 255"),
        ("[{any: [{address: 5}]}]", "needs at least two rules"),
        ("[{address: 5, expect: {maybe: 1}}]", "{range: [lowest, highest]}"),
        ("[{adress: 5}]", "unknown field"),
    ],
)
def test_a_wrong_rule_is_refused_naming_variant_and_field(rules: str, message: str) -> None:
    """Each mistake names the file, the variant and the rule's field."""
    with pytest.raises(ProfileError) as refused:
        family(rules_a=rules)

    text = str(refused.value)
    assert "demo.yaml" in text
    assert "variant 'demo_a'" in text
    assert "field 'detect[0]" in text
    assert message in text


def test_a_wrong_family_rule_names_the_field_of_the_file() -> None:
    """A mistake in the file's own rules names its field, and no variant."""
    with pytest.raises(ProfileError) as refused:
        family(family_rules="[{address: 5, expect: {range: [2, 1]}}]")

    assert "demo.yaml, field 'detect[0].expect': a range runs from lowest to highest" in str(
        refused.value
    )


# --- Judging a unit -------------------------------------------------------------------------


def _number(words: list[int]) -> int:
    """Join the registers into one unsigned number, high word first (big-endian bytes)."""
    return int.from_bytes(b"".join(word.to_bytes(2, "big") for word in words), "big")


@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4), data=st.data())
def test_a_range_holds_when_the_registers_read_high_word_first_lie_in_it(
    words: list[int], data: st.DataObject
) -> None:
    """``range`` judges all the registers of the read as one number, high word first."""
    number = _number(words)
    near = st.integers(max(number - 2, 0), number + 2)
    low, high = sorted(data.draw(st.tuples(st.one_of(near, st.integers(0, 2**64 - 1)), near)))
    profiles = family(
        rules_a=f"[{{address: 10, count: {len(words)}, expect: {{range: [{low}, {high}]}}}}]"
    )
    unit = unit_with({10 + offset: word for offset, word in enumerate(words)})

    found = asyncio.run(candidates(unit, profiles))

    assert (found == ["demo_a"]) == (low <= _number(words) <= high)


@settings(max_examples=30, deadline=None)
@given(value=st.integers(0, 0xFFFF), listed=st.sets(st.integers(0, 0xFFFF), min_size=1, max_size=5))
def test_in_holds_when_the_value_is_listed(value: int, listed: set[int]) -> None:
    """``in`` holds exactly when the register's value is one of those listed."""
    profiles = family(rules_a=f"[{{address: 3, expect: {{in: {sorted(listed)}}}}}]")

    found = asyncio.run(candidates(unit_with({3: value}), profiles))

    assert (found == ["demo_a"]) == (value in listed)


@pytest.mark.parametrize(("at", "board", "expected"), [(7, 7, ["demo_a"]), (8, 7, ["demo_b"])])
async def test_a_register_holding_the_unit_id_tells_two_addresses_of_one_board_apart(
    at: int, board: int, expected: list[str]
) -> None:
    """The first half reads its own unit id, the second the unit id - 1 (a BCPM's DIP address)."""
    profiles = family(
        rules_a="[{address: 100, expect: {unit_id_plus: 0}}]",
        rules_b="[{address: 100, expect: {unit_id_plus: -1}}]",
    )

    assert await candidates(unit_with({100: board}), profiles, at=at) == expected


async def test_a_family_recognised_by_its_own_rules_names_the_variants_that_fit_best() -> None:
    """Family rules gate; a variant whose rules all hold wins; else the fewest failures tie."""
    profiles = family(
        family_rules="[{address: 0, expect: {in: [42]}}]",
        rules_a="[{address: 1}, {address: 2, expect: exception}]",
        rules_b="[{address: 1}, {address: 3, expect: exception}]",
    )
    refusing_2 = unit_with({0: 42, 1: 0, 3: 0}, refused=(2, 2))
    refusing_both = unit_with({0: 42, 1: 0}, refused=(2, 3))
    answering_all = unit_with({0: 42, 1: 0, 2: 0, 3: 0})
    another_family = unit_with({0: 41, 1: 0}, refused=(2, 2))

    assert await candidates(refusing_2, profiles) == ["demo_a"]
    assert await candidates(refusing_both, profiles) == ["demo_a", "demo_b"]
    assert await candidates(answering_all, profiles) == ["demo_a", "demo_b"]
    assert await candidates(another_family, profiles) == []


async def test_without_family_rules_a_variant_needs_all_its_own() -> None:
    """A variant without rules is never recognised when its family has no rules of its own."""
    profiles = family(rules_a="[{address: 1}, {address: 2, expect: exception}]")

    assert await candidates(unit_with({1: 0}, refused=(2, 2)), profiles) == ["demo_a"]
    assert await candidates(unit_with({1: 0, 2: 0}), profiles) == []


async def test_a_silent_unit_is_given_up_after_its_first_read() -> None:
    """Silence is not an identification, and a silent unit is not tried rule after rule."""
    profiles = family(
        family_rules="[{address: 0}]",
        rules_a="[{address: 1}, {address: 2}]",
        rules_b="[{address: 3}]",
    )
    clock = FakeClock()
    link = FakeTransport(clock)
    link.units[1] = SimUnit(silent=True)
    bus = make_bus(link, clock, policy=RetryPolicy(retries=0))
    await bus.open()

    with pytest.raises(RequestTimeoutError):
        await recognise(bus, 1, profiles.values())
    assert len(link.requests(1)) == 1


async def test_each_read_is_sent_once_however_many_rules_ask_it() -> None:
    """Rules of several variants that read the same registers cost one request."""
    profiles = family(
        family_rules="[{address: 0}]",
        rules_a="[{address: 0}, {address: 1, expect: {in: [5]}}]",
        rules_b="[{address: 0}, {address: 1, expect: {in: [6]}}]",
    )
    clock = FakeClock()
    link = FakeTransport(clock)
    link.units[1] = unit_with({0: 1, 1: 6})
    bus = make_bus(link, clock)
    await bus.open()

    assert [p.key for p in await recognise(bus, 1, profiles.values())] == ["demo_b"]
    assert len(link.requests(1)) == 2
