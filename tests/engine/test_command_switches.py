"""Switches made of two device commands: a profile's ``switches``, their entities and their writes.

The oracle for the Liebert outlets is the IntelliSlot guide's rule, not the profile:
outlet n is bit n-1 of the mask written to 40112 (turn on) or 40113 (turn off).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from powerbus.catalogue import catalogue
from powerbus.entity_spec import EntitySpec, Platform, Source
from powerbus.entity_state import entity_states, operate
from powerbus.errors import ConfirmationRequiredError, ProfileError, WriteValidationError
from powerbus.models import Profile, Table, Value
from powerbus.profile import get_profile, parse_profile_text

from .fakes import Rig

pytestmark = pytest.mark.hardware_free

OUTLETS_ON_PDU = 40112 - 40001
OUTLETS_OFF_PDU = 40113 - 40001

# A relay box: one command per relay state, a bool point that reads relay 1 back.
RELAYS = """
family: relays
manufacturer: Test
addressing: pdu
transport: {unit_id: 1, port: 502}
limits: {timeout: 0.5, readable: [{table: holding_register, start: 0, end: 40}]}
defaults: {table: holding_register}
point_sets:
  all:
    - {key: relay_state, name: Relay state, address: 0, bit: 0}
    - {key: level, name: Level, address: 1}
commands:
  - key: relay_on
    name: Relay on
    params: [{key: mask, name: Mask, kind: int, min: 1, max: 3}]
    steps: [{write: {address: 20, value: {param: mask}}}]
  - key: relay_off
    name: Relay off
    dangerous: true
    params: [{key: mask, name: Mask, kind: int, min: 1, max: 3}]
    steps: [{write: {address: 21, value: {param: mask}}}]
switches:
  - {key: relay_1, name: Relay 1, turn_on: {command: relay_on, params: {mask: 1}}, turn_off: {command: relay_off, params: {mask: 1}}, state: relay_state}
  - {key: relay_2, name: Relay 2, device_class: outlet, turn_on: {command: relay_on, params: {mask: 2}}, turn_off: {command: relay_off, params: {mask: 2}}}
variants:
  - key: relays
    name: Relays
    point_sets: [all]
    commands: [relay_on, relay_off]
    switches: [relay_1, relay_2]
"""


def relays() -> Profile:
    """Return the relay box of :data:`RELAYS`."""
    return parse_profile_text(RELAYS, "relays.yaml")["relays"]


def switch_spec(profile: Profile, key: str) -> EntitySpec:
    """Return the catalogue entity ``key`` of ``profile``."""
    return next(spec for spec in catalogue(profile) if spec.key == key)


def problems(text: str) -> list[str]:
    """Load ``text``; return the lines of the error it must raise."""
    with pytest.raises(ProfileError) as caught:
        parse_profile_text(text, "relays.yaml")
    return str(caught.value).splitlines()


# --- The Liebert outlets ------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["liebert_series600", "liebert_series300"])
def test_each_liebert_outlet_is_a_switch_of_its_own_mask_bit(variant: str) -> None:
    """Sixteen outlets; outlet n turns on and off with bit n-1 alone, as the guide says."""
    specs = [
        spec
        for spec in catalogue(get_profile(variant))
        if spec.platform is Platform.SWITCH and spec.source is Source.COMMAND
    ]
    assert [spec.key for spec in specs] == [f"outlet_{n}" for n in range(1, 17)]
    for n, spec in enumerate(specs, start=1):
        assert spec.turn_on is not None and spec.turn_off is not None
        assert (spec.turn_on.command, dict(spec.turn_on.params)) == (
            "outlets_on",
            {"outlets": 1 << (n - 1)},
        )
        assert (spec.turn_off.command, dict(spec.turn_off.params)) == (
            "outlets_off",
            {"outlets": 1 << (n - 1)},
        )
        assert spec.device_class == "outlet"
        assert spec.assumed_state, "no status bit of these tables reads an outlet back"
        assert spec.dangerous and not spec.enabled_by_default, "turning an outlet off cuts a load"


def test_liebert_models_without_outlet_commands_have_no_outlet_switches() -> None:
    """A GXT2 is not offered switches its card has no command for."""
    assert get_profile("liebert_gxt2").switches == ()


@pytest.mark.parametrize(("on", "pdu"), [(True, OUTLETS_ON_PDU), (False, OUTLETS_OFF_PDU)])
async def test_switching_outlet_3_writes_its_bit_to_the_on_or_off_register(
    on: bool, pdu: int
) -> None:
    """One write of 0x0004: to 40112 to switch on, to 40113 to switch off."""
    rig = Rig(get_profile("liebert_series600"))
    session = rig.session()
    spec = switch_spec(rig.profile, "outlet_3")
    await operate(session, spec, on)
    writes = [r for r in rig.link.log if r.function.startswith("write")]
    assert [(w.table, w.address) for w in writes] == [(Table.HOLDING_REGISTER, pdu)]
    assert rig.device.read(Table.HOLDING_REGISTER, pdu, 1) == [0x0004]


@pytest.mark.parametrize("value", [None, 1, "on", 0.0])
async def test_a_switch_made_of_commands_takes_only_true_or_false(value: Value | None) -> None:
    """Anything but a bool is refused before the first byte goes out."""
    rig = Rig(get_profile("liebert_series600"))
    session = rig.session()
    with pytest.raises(WriteValidationError, match="outlet_1: a switch takes true or false"):
        await operate(session, switch_spec(rig.profile, "outlet_1"), value)
    assert rig.link.log == []


async def test_a_dangerous_side_still_needs_the_confirmation_of_enabling() -> None:
    """The off command is dangerous; a spec that is not marked dangerous cannot run it."""
    rig = Rig(relays())
    session = rig.session()
    spec = switch_spec(rig.profile, "relay_1")
    assert spec.dangerous
    unconfirmed = replace(spec, dangerous=False)
    await operate(session, unconfirmed, True)  # turning on is safe
    with pytest.raises(ConfirmationRequiredError):
        await operate(session, unconfirmed, False)
    assert rig.device.read(Table.HOLDING_REGISTER, 21, 1) == [0]
    await operate(session, spec, False)
    assert rig.device.read(Table.HOLDING_REGISTER, 21, 1) == [1]


# --- State -------------------------------------------------------------------------------------
async def test_a_switch_with_a_state_point_shows_what_the_device_reads() -> None:
    """relay_1 reads relay_state; relay_2 reads nothing and has an assumed state."""
    rig = Rig(relays())
    rig.device.put_raw(Table.HOLDING_REGISTER, 0, [0b1])
    session = rig.session()
    await session.poll_due()
    specs = catalogue(rig.profile)
    relay_1 = switch_spec(rig.profile, "relay_1")
    assert relay_1.reads == ("relay_state",) and not relay_1.assumed_state
    assert switch_spec(rig.profile, "relay_2").assumed_state
    states = entity_states(rig.profile, specs, session.snapshot)
    assert (states["relay_1"].available, states["relay_1"].value) == (True, True)
    assert (states["relay_2"].available, states["relay_2"].value) == (True, None)
    rig.device.put_raw(Table.HOLDING_REGISTER, 0, [0])
    rig.clock.advance(60)
    await session.poll_due()
    assert entity_states(rig.profile, specs, session.snapshot)["relay_1"].value is False


async def test_a_switch_of_an_unreachable_device_is_unavailable_and_shows_nothing_old() -> None:
    """While the device is silent the last state it read is not shown as fresh."""
    rig = Rig(relays())
    rig.device.put_raw(Table.HOLDING_REGISTER, 0, [0b1])
    session = rig.session()
    await session.poll_due()
    rig.device.silent = True
    rig.clock.advance(60)
    await session.poll_due()
    state = entity_states(rig.profile, catalogue(rig.profile), session.snapshot)["relay_1"]
    assert (state.available, state.value) == (False, None)


# --- Profile mistakes --------------------------------------------------------------------------
def test_the_relay_box_loads() -> None:
    """Every mistake below is made in a file that is otherwise right."""
    profile = relays()
    assert [switch.key for switch in profile.switches] == ["relay_1", "relay_2"]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "turn_off: {command: relay_off, params: {mask: 1}}",
            "turn_off: {command: relay_of, params: {mask: 1}}",
            (
                "switch 'relay_1', field 'turn_off.command': names no command of the variant: "
                "'relay_of'"
            ),
        ),
        (
            "turn_on: {command: relay_on, params: {mask: 2}}",
            "turn_on: {command: relay_on, params: {mask: 4}}",
            (
                "switch 'relay_2', field 'turn_on.params': relay_on: parameter 'mask' is 4, "
                "above the maximum 3"
            ),
        ),
        (
            "turn_on: {command: relay_on, params: {mask: 2}}",
            "turn_on: {command: relay_on, params: {maks: 2}}",
            "switch 'relay_2', field 'turn_on.params': relay_on: unknown parameter 'maks'",
        ),
        (
            "state: relay_state}",
            "state: level}",
            "switch 'relay_1', field 'state': point 'level' reads a u16, not on or off",
        ),
        (
            "state: relay_state}",
            "state: relay_status}",
            "switch 'relay_1', field 'state': names no point of the variant: 'relay_status'",
        ),
        (
            "switches: [relay_1, relay_2]",
            "switches: [relay_1, relay_3]",
            "variant 'relays', field 'switches': unknown switch 'relay_3'",
        ),
        (
            "device_class: outlet,",
            "device_class: plug,",
            "switch 'relay_2', field 'device_class'",
        ),
    ],
)
def test_a_wrong_switch_names_file_switch_and_field(old: str, new: str, where: str) -> None:
    """Each mistake is refused when the file is loaded, in the file's own words."""
    assert old in RELAYS
    lines = problems(RELAYS.replace(old, new, 1))
    assert any(line.startswith(f"relays.yaml, {where}") for line in lines), lines


def test_a_bare_on_key_is_named_for_what_yaml_made_of_it() -> None:
    """``on:`` is YAML's true: the message says to write turn_on."""
    lines = problems(RELAYS.replace("turn_on: {command: relay_on, params: {mask: 2}}", "on: x"))
    assert any("switch 'relay_2'" in line and "write turn_on, turn_off" in line for line in lines)


def test_a_switch_key_that_is_a_point_key_is_named() -> None:
    """A switch and a point with one key would share a unique id."""
    clash = RELAYS.replace("relay_2", "level")
    assert any(
        "switch 'level', field 'key': a point of the variant has the same key" in line
        for line in problems(clash)
    )


def test_a_switch_key_given_twice_is_named() -> None:
    """Two switches with one key would share a unique id."""
    twice = RELAYS.replace("{key: relay_2, name: Relay 2,", "{key: relay_1, name: Relay 2,", 1)
    assert any(
        "switch 'relay_1', field 'key': switch key is used twice" in line
        for line in problems(twice)
    )
