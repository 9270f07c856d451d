"""Repairs against simulated devices: raised when the problem is real, cleared when it is gone.

- a swapped meter (another serial number at the unit id) raises identity_mismatch,
  which clears once the configured meter answers again;
- a PowerLogic float-variant meter whose float registers are off raises a fixable
  float_registers_off, whose flow switches them on at the meter;
- an energy counter that went back raises a fixable counter_refused, whose flow lets
  the new reading through;
- a link's issues go when it unloads, stay while its set-up is retried, and those of
  devices removed meanwhile are dropped.

The slow-line issue (link_too_slow) is tested in ``test_repairs_link_speed.py``.
Polls are started by hand (``poll_now``): these tests are not about timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
import json
from typing import Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from custom_components.powerbus.const import DOMAIN
from custom_components.powerbus.repairs import (
    ISSUE_COUNTER_REFUSED,
    ISSUE_FLOAT_REGISTERS_OFF,
    ISSUE_IDENTITY_MISMATCH,
    ISSUES,
    device_issue_id,
)
from powerbus.simulator.faults import DropConnection, ExceptionAnswer

from .recorded import RARELY
from .watched import STRINGS, UNIT, Link, assert_translated, watch_link

SERIAL = "22091039"
FOREIGN_SERIAL = "31415926"
FLOAT_SWITCH = range(3247, 3248)  # register 3248


@pytest.fixture
async def meter(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Link]:
    """Serve a PRO380 meter on a link polled rarely."""
    async for link in watch_link(hass, "pro380", **RARELY):
        yield link


@pytest.fixture
async def float_meter(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Link]:
    """Serve a CM3000 set up with its float-register profile."""
    async for link in watch_link(hass, "cm3000_float", **RARELY):
        yield link


# --- identity_mismatch -----------------------------------------------------------------------
async def test_a_swapped_meter_raises_identity_mismatch_until_the_right_one_is_back(
    meter: Link,
) -> None:
    """Another serial number at the unit id hides the values and raises the issue; it clears."""
    simulated = meter.recorded.site.devices[UNIT]
    simulated.set_value("serial_number", FOREIGN_SERIAL)
    await meter.poll_now()

    issue = meter.issue(ISSUE_IDENTITY_MISMATCH)
    assert issue is not None
    assert (issue.severity, issue.is_fixable) == (ir.IssueSeverity.ERROR, False)
    assert FOREIGN_SERIAL in issue.translation_placeholders["error"]
    assert SERIAL in issue.translation_placeholders["error"]
    assert_translated(issue)
    assert meter.voltage() == "unavailable"

    simulated.set_value("serial_number", SERIAL)
    await meter.poll_now()

    assert meter.issue(ISSUE_IDENTITY_MISMATCH) is None
    assert meter.voltage() != "unavailable"


async def test_the_issues_of_a_link_go_when_it_unloads_but_stay_while_it_retries(
    meter: Link,
) -> None:
    """An unloaded link shows no issue; a link whose set-up will be retried keeps its own."""
    hass = meter.hass
    meter.recorded.site.devices[UNIT].set_value("serial_number", FOREIGN_SERIAL)
    await meter.poll_now()
    assert meter.issue(ISSUE_IDENTITY_MISMATCH) is not None

    assert await hass.config_entries.async_unload(meter.entry.entry_id)
    assert meter.issue(ISSUE_IDENTITY_MISMATCH) is None

    # The only device on the link is a foreign one: the link's set-up fails and is retried.
    assert not await hass.config_entries.async_setup(meter.entry.entry_id)
    assert meter.entry.state is ConfigEntryState.SETUP_RETRY
    assert meter.issue(ISSUE_IDENTITY_MISMATCH) is not None


async def test_the_issue_of_a_device_removed_meanwhile_is_dropped(meter: Link) -> None:
    """A foreign device's issue, kept while its link retried, goes once the device is removed."""
    hass, entry = meter.hass, meter.entry
    meter.recorded.site.devices[UNIT].set_value("serial_number", FOREIGN_SERIAL)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    stale = meter.issue(ISSUE_IDENTITY_MISMATCH)
    assert stale is not None
    other = ("other", "something_else")
    ir.async_create_issue(
        hass, *other, is_fixable=False, severity=ir.IssueSeverity.WARNING, translation_key="x"
    )

    assert hass.config_entries.async_remove_subentry(entry, meter.subentry_id)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, stale.issue_id) is None
    assert ir.async_get(hass).async_get_issue(*other) is not None


# --- float_registers_off ---------------------------------------------------------------------
async def _repair(hass: HomeAssistant, issue: ir.IssueEntry) -> Mapping[str, Any]:
    """Start the issue's fix flow; return its first step."""
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})


async def _confirm(hass: HomeAssistant, step: Mapping[str, Any]) -> Mapping[str, Any]:
    """Confirm a fix flow's step; return the outcome."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return await manager.async_configure(step["flow_id"], {})


async def test_float_registers_switched_off_are_switched_on_by_the_repair(
    float_meter: Link,
) -> None:
    """The fix flow runs the meter's enable command; the floats come back and so do the values."""
    hass, simulated = float_meter.hass, float_meter.recorded.site.devices[UNIT]
    assert float_meter.voltage() not in ("unavailable", "unknown")
    simulated.set_value("float_registers", "disabled")
    await float_meter.poll_now()

    issue = float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF)
    assert issue is not None
    assert issue.is_fixable
    assert_translated(issue)
    assert float_meter.voltage() == "unavailable"

    step = await _repair(hass, issue)
    assert (step["type"], step["step_id"]) == (FlowResultType.FORM, "confirm")
    assert step["description_placeholders"] == {
        "device": float_meter.entry.subentries[float_meter.subentry_id].title
    }
    done = await _confirm(hass, step)
    assert done["type"] is FlowResultType.CREATE_ENTRY

    assert simulated.get_value("float_registers") == "enabled"
    assert [w.address for w in float_meter.recorded.wire.writes] == [3247]
    await float_meter.poll_now()
    assert float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF) is None
    assert float_meter.voltage() not in ("unavailable", "unknown")

    simulated.set_value("float_registers", "disabled")
    await float_meter.poll_now()
    assert float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF) is not None


async def test_the_float_issue_stays_while_the_meter_cannot_be_read(float_meter: Link) -> None:
    """A meter that stops answering neither clears nor raises the issue again."""
    simulated = float_meter.recorded.site.devices[UNIT]
    simulated.set_value("float_registers", "disabled")
    await float_meter.poll_now()
    issue_id = device_issue_id(ISSUE_FLOAT_REGISTERS_OFF, float_meter.subentry_id)
    assert float_meter.raised == [issue_id]

    float_meter.recorded.site.simulator.faults.add(DropConnection(times=None, unit_id=UNIT))
    await float_meter.poll_now()
    assert float_meter.voltage() == "unavailable"
    float_meter.recorded.site.simulator.faults.clear()
    await float_meter.poll_now()

    assert float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF) is not None
    assert issue_id not in float_meter.cleared


async def test_a_meter_that_refuses_the_repair_keeps_the_issue(float_meter: Link) -> None:
    """A refused command ends the flow with the reason; the issue stays."""
    hass, simulated = float_meter.hass, float_meter.recorded.site.devices[UNIT]
    simulated.set_value("float_registers", "disabled")
    await float_meter.poll_now()
    issue = float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF)
    assert issue is not None
    float_meter.recorded.site.simulator.faults.add(
        ExceptionAnswer(code=0x04, times=None, unit_id=UNIT, addresses=FLOAT_SWITCH)
    )

    aborted = await _confirm(hass, await _repair(hass, issue))

    assert (aborted["type"], aborted["reason"]) == (FlowResultType.ABORT, "command_failed")
    assert "0x04" in aborted["description_placeholders"]["error"]
    assert simulated.get_value("float_registers") == "disabled"
    assert float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF) is not None


async def test_a_repair_whose_link_went_away_is_aborted(float_meter: Link) -> None:
    """A flow confirmed after its link was unloaded sends nothing."""
    hass, simulated = float_meter.hass, float_meter.recorded.site.devices[UNIT]
    simulated.set_value("float_registers", "disabled")
    await float_meter.poll_now()
    issue = float_meter.issue(ISSUE_FLOAT_REGISTERS_OFF)
    assert issue is not None
    step = await _repair(hass, issue)
    assert await hass.config_entries.async_unload(float_meter.entry.entry_id)

    aborted = await _confirm(hass, step)

    assert (aborted["type"], aborted["reason"]) == (FlowResultType.ABORT, "device_gone")
    assert float_meter.recorded.wire.writes == []


def test_every_issue_has_a_title_and_a_text() -> None:
    """Each issue kind is translated, the fixable one with its flow's step and aborts."""
    issues = json.loads(STRINGS.read_text("utf-8"))["issues"]
    for kind in ISSUES:
        assert issues[kind]["title"]
        assert issues[kind].get("description") or issues[kind]["fix_flow"]["step"]["confirm"]
    aborts = issues[ISSUE_FLOAT_REGISTERS_OFF]["fix_flow"]["abort"]
    assert set(aborts) == {"device_gone", "command_failed"}


# --- counter_refused -------------------------------------------------------------------------
def _state_of(link: Link, key: str) -> str:
    """Return the state of one of the device's sensors."""
    uid = link.entry.subentries[link.subentry_id].unique_id
    registry = er.async_get(link.hass)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{uid}_{key}")
    assert entity_id is not None
    state = link.hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_a_counter_that_went_back_is_shown_again_once_the_user_accepts_it(
    meter: Link,
) -> None:
    """A reset made at the meter itself: not shown, a fixable issue, then shown once accepted."""
    hass, simulated = meter.hass, meter.recorded.site.devices[UNIT]
    simulated.paused = True
    before = float(_state_of(meter, "import_active_energy"))
    simulated.set_value("import_active_energy", 1.5)
    await meter.poll_now()

    assert _state_of(meter, "import_active_energy") == "unavailable"
    issue = meter.issue(ISSUE_COUNTER_REFUSED)
    assert issue is not None
    assert issue.is_fixable
    assert_translated(issue)
    assert f"went back from {before:g}" in issue.translation_placeholders["error"]

    done = await _confirm(hass, await _repair(hass, issue))
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await meter.poll_now()

    assert float(_state_of(meter, "import_active_energy")) == pytest.approx(1.5)
    assert meter.issue(ISSUE_COUNTER_REFUSED) is None
