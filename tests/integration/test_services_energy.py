"""powerbus.transfer_energy end to end: a replaced PowerLogic meter takes over the old one's counters.

The old meters are a CM2000 (same link, its energies at 1601-1628 in another order)
and a CM3000 (another link); the new meter is a PM800. The meters are simulated with
their command interface: the PM800 answers the preset with 0 (done), 81 (a firmware
without the command) or 82 (a register outside -9999..9999 arrived). A refused call
must not have written anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.powerbus.const import DOMAIN
from powerbus import Table
from powerbus.simulator.powerlogic import PowerLogicBehaviour
from powerbus.simulator.profile_device import ProfileDevice

from .recorded import RARELY, RecordedSite, device_id, set_up_link, start_recorded_site, unload_all

METER, CM2000, PM800 = 1, 3, 4
ENERGIES = (  # the order of registers 1700-1727, four MOD10 registers each
    "import_active_energy",
    "import_reactive_energy",
    "export_active_energy",
    "export_reactive_energy",
    "active_energy",
    "reactive_energy",
    "apparent_energy",
)
PRESET_BUFFER = 8021  # register 8022 on the PM800's command interface
NOTED = {
    "import_active_energy": 1_234_567_890,
    "import_reactive_energy": 98_765_432,
    "export_active_energy": 4_000_321,
    "export_reactive_energy": 112_358_132,
    "active_energy": 1_234_567_890 - 4_000_321,
    "reactive_energy": 98_765_432 - 112_358_132,
    "apparent_energy": 1_300_000_007,
}


def mod10(value: int) -> list[int]:
    """Return a counter as a PowerLogic meter keeps it: four parts of 0..9999, least first, signed."""
    sign, magnitude = (-1 if value < 0 else 1), abs(value)
    return [sign * (magnitude // 10_000**place % 10_000) for place in range(4)]


NOTED_REGISTERS = [part for key in ENERGIES for part in mod10(NOTED[key])]


@dataclass
class Meters:
    """A CM2000 and a PM800 on link A (with a PRO380), a CM3000 on link B."""

    hass: HomeAssistant
    a: RecordedSite
    b: RecordedSite
    entry_a: MockConfigEntry
    entry_b: MockConfigEntry

    @property
    def pm800(self) -> ProfileDevice:
        """The simulated new meter."""
        return self.a.site.devices[PM800]

    def counters(self, meter: ProfileDevice) -> dict[str, Any]:
        """Return a simulated meter's seven counters, brought up to the site's time."""
        meter.advance()
        return {key: meter.get_value(key) for key in ENERGIES}

    def writes(self) -> int:
        """Return how many writes reached any simulated meter."""
        return len(self.a.wire.writes) + len(self.b.wire.writes)

    async def transfer(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Call transfer_energy and return its answer."""
        result = await self.hass.services.async_call(
            DOMAIN, "transfer_energy", dict(data), blocking=True, return_response=True
        )
        assert result is not None
        return dict(result)


@pytest.fixture
async def meters(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Meters]:
    """Serve both links' meters and set both links up."""
    a = await start_recorded_site({METER: "pro380", CM2000: "cm2000", PM800: "pm800"})
    b = await start_recorded_site({METER: "cm3000"})
    entry_a = await set_up_link(hass, a.site, **RARELY)
    entry_b = await set_up_link(hass, b.site, **RARELY)
    yield Meters(hass=hass, a=a, b=b, entry_a=entry_a, entry_b=entry_b)
    await unload_all(hass)
    await a.site.simulator.stop()
    await b.site.simulator.stop()


def _to(meters: Meters, **data: Any) -> dict[str, Any]:
    """Return transfer_energy data aimed at the PM800."""
    return {"device_id": device_id(meters.hass, meters.entry_a, PM800), **data}


async def test_the_counters_of_an_old_meter_on_the_same_link_move_to_the_new(
    meters: Meters,
) -> None:
    """From a CM2000 (other register order) to a PM800: every counter arrives and reads back."""
    meters.a.site.clock.advance(3 * 3600)  # the two meters count different loads
    old = meters.counters(meters.a.site.devices[CM2000])
    assert old != meters.counters(meters.pm800)

    result = await meters.transfer(
        _to(meters, source_device_id=device_id(meters.hass, meters.entry_a, CM2000), confirm=True)
    )

    assert (result["status"], result["status_code"]) == ("done", 0)
    assert {q["key"]: q["written"] for q in result["quantities"]} == old
    assert {q["key"]: q["read_back"] for q in result["quantities"]} == old
    assert meters.counters(meters.pm800) == old
    registry = er.async_get(meters.hass)
    uid = next(s.unique_id for s in meters.entry_a.subentries.values() if s.data["unit"] == PM800)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{uid}_import_active_energy")
    assert entity_id is not None
    state = meters.hass.states.get(entity_id)
    assert state is not None
    shown = float(state.state) * (1000 if state.attributes["unit_of_measurement"] == "kWh" else 1)
    assert shown == pytest.approx(old["import_active_energy"])


async def test_the_counters_of_an_old_meter_on_another_link_move_to_the_new(
    meters: Meters,
) -> None:
    """From a CM3000 on link B to the PM800 on link A."""
    meters.b.site.clock.advance(3600)
    old = meters.counters(meters.b.site.devices[METER])
    assert old != meters.counters(meters.pm800)

    result = await meters.transfer(
        _to(meters, source_device_id=device_id(meters.hass, meters.entry_b, METER), confirm=True)
    )

    assert (result["status"], result["status_code"]) == ("done", 0)
    assert meters.counters(meters.pm800) == old
    assert meters.b.wire.writes == []  # the old meter is only read


async def test_noted_counters_are_preset_and_read_back(meters: Meters) -> None:
    """Counters noted from a dead meter are preset in one block and read back."""
    result = await meters.transfer(_to(meters, registers=NOTED_REGISTERS, confirm=True))

    assert (result["status"], result["status_code"]) == ("done", 0)
    assert result["written"] == NOTED_REGISTERS
    assert {q["key"]: q["read_back"] for q in result["quantities"]} == NOTED
    assert meters.counters(meters.pm800) == NOTED
    buffer = [write for write in meters.a.wire.writes_to(PM800) if write.address == PRESET_BUFFER]
    assert [write.count for write in buffer] == [28]


async def test_a_meter_without_the_preset_command_answers_81(meters: Meters) -> None:
    """A firmware that does not know command 6209 answers 81: a translated error, nothing preset."""
    behaviour = meters.pm800.behaviour
    assert isinstance(behaviour, PowerLogicBehaviour)
    behaviour.energy_preset = False
    before = meters.counters(meters.pm800)

    with pytest.raises(HomeAssistantError) as failure:
        await meters.transfer(_to(meters, registers=NOTED_REGISTERS, confirm=True))

    assert failure.value.translation_key == "command_invalid_command"
    assert failure.value.translation_placeholders["command"] == "preset_energies"
    assert "81" in failure.value.translation_placeholders["error"]
    assert meters.counters(meters.pm800) == before


async def test_a_meter_that_receives_a_value_out_of_range_answers_82(meters: Meters) -> None:
    """A register garbled on its way to 10000 makes the meter answer 82; nothing is preset."""

    def garble(table: Table, address: int, words: list[int]) -> list[int]:
        if table is Table.HOLDING_REGISTER and address == PRESET_BUFFER:
            return [10_000, *words[1:]]
        return words

    meters.a.served[PM800].garble = garble
    before = meters.counters(meters.pm800)

    with pytest.raises(HomeAssistantError) as failure:
        await meters.transfer(_to(meters, registers=NOTED_REGISTERS, confirm=True))

    assert failure.value.translation_key == "command_invalid_parameters"
    assert "82" in failure.value.translation_placeholders["error"]
    assert meters.counters(meters.pm800) == before


async def test_a_transfer_is_refused_before_anything_is_written(meters: Meters) -> None:
    """Every way a transfer request can be wrong is refused with its key, and nothing is written."""
    hass = meters.hass
    cm2000 = device_id(hass, meters.entry_a, CM2000)
    pro380 = device_id(hass, meters.entry_a, METER)
    pm800 = device_id(hass, meters.entry_a, PM800)
    out_of_range = [*NOTED_REGISTERS[:-1], 10_000]
    refusals = [
        ("no old meter, no values", _to(meters, confirm=True), "no_energy_source"),
        (
            "both",
            _to(meters, source_device_id=cm2000, registers=NOTED_REGISTERS, confirm=True),
            "two_energy_sources",
        ),  # fmt: skip
        (
            "27 values",
            _to(meters, registers=NOTED_REGISTERS[:27], confirm=True),
            "invalid_request",
        ),  # fmt: skip
        ("a value of 10000", _to(meters, registers=out_of_range, confirm=True), "invalid_request"),
        ("values unconfirmed", _to(meters, registers=NOTED_REGISTERS), "confirmation_required"),
        ("old meter unconfirmed", _to(meters, source_device_id=cm2000), "confirmation_required"),
        ("the same meter twice", _to(meters, source_device_id=pm800, confirm=True), "same_meter"),
        (
            "an old meter without counters",
            _to(meters, source_device_id=pro380, confirm=True),
            "invalid_request",
        ),  # fmt: skip
        (
            "a new meter without the preset",
            {"device_id": pro380, "source_device_id": cm2000, "confirm": True},
            "invalid_request",
        ),  # fmt: skip
        (
            "an unknown old meter",
            _to(meters, source_device_id="gone", confirm=True),
            "unknown_device",
        ),  # fmt: skip
    ]
    before = meters.counters(meters.pm800)

    for name, data, key in refusals:
        with pytest.raises(ServiceValidationError) as refusal:
            await meters.transfer(data)
        assert refusal.value.translation_key == key, name
        assert meters.writes() == 0, name
    for values in ([*NOTED_REGISTERS[:-1], "lots"], [*NOTED_REGISTERS[:-1], 1.5]):
        with pytest.raises(vol.Invalid):
            await meters.transfer(_to(meters, registers=values, confirm=True))

    assert meters.writes() == 0
    assert meters.counters(meters.pm800) == before


async def test_an_old_meter_that_cannot_be_read_is_refused(meters: Meters) -> None:
    """An old meter that does not answer, or whose link is unloaded, cannot give its counters."""
    hass = meters.hass
    cm3000 = device_id(hass, meters.entry_b, METER)
    await meters.b.site.simulator.stop()
    coordinator = meters.entry_b.runtime_data
    coordinator.devices[next(iter(coordinator.devices))].session.request_refresh()
    await coordinator.async_refresh()

    with pytest.raises(ServiceValidationError) as refusal:
        await meters.transfer(_to(meters, source_device_id=cm3000, confirm=True))
    assert refusal.value.translation_key == "old_meter_unavailable"

    assert await hass.config_entries.async_unload(meters.entry_b.entry_id)
    with pytest.raises(ServiceValidationError) as refusal:
        await meters.transfer(_to(meters, source_device_id=cm3000, confirm=True))
    assert refusal.value.translation_key == "link_not_loaded"
    assert meters.writes() == 0
