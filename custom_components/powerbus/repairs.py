"""Repairs: problems with a link or a device that the user can act on.

- **identity_mismatch**: another device answers at a configured unit id (a meter was
  swapped, or a unit id changed). Its values are not shown; reconfigure the device.
- **float_registers_off**: a PowerLogic meter configured with its float-register
  profile has its float registers switched off, so its real-time values cannot be
  read. Fixable: the repair runs the meter's "enable float registers" command.
- **link_too_slow**: the line cannot read a device's groups as often as asked; the
  issue gives the asked and the achieved interval. Lengthen the intervals (options)
  or move devices to another line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import voluptuous as vol

from .const import DOMAIN
from .engine import DataType, Profile
from .errors import action_errors

if TYPE_CHECKING:
    from .coordinator import PowerbusCoordinator, PowerbusDevice

FLOAT_SWITCH = "float_registers"
FLOATS_OFF = "disabled"
_ENABLE_FLOATS = ("enable_float_registers_pm800", "enable_float_registers_cm")


def repair_points(profile: Profile) -> set[str]:
    """Return the points a device must read for its repairs to be noticed."""
    return {FLOAT_SWITCH} if _expects_floats(profile) else set()


@callback
def async_check_repairs(hass: HomeAssistant, coordinator: PowerbusCoordinator) -> None:
    """Raise or clear the issues of a link and its devices after a refresh."""
    slow = {timing.session for timing in coordinator.scheduler.shortfalls()}
    for subentry_id, device in coordinator.devices.items():
        snapshot = device.snapshot
        _toggle(
            hass,
            f"identity_mismatch_{subentry_id}",
            snapshot.identity_mismatch,
            "identity_mismatch",
            {"device": device.subentry.title, "error": snapshot.error or ""},
        )
        _toggle(
            hass,
            f"float_registers_off_{subentry_id}",
            _expects_floats(device.profile) and snapshot.value(FLOAT_SWITCH) == FLOATS_OFF,
            "float_registers_off",
            {"device": device.subentry.title},
            fixable=True,
            data={"entry_id": coordinator.config_entry.entry_id, "subentry_id": subentry_id},
        )
        timing = (
            next((t for t in device.session.timings() if t.shortfall), None)
            if device.session in slow
            else None
        )
        _toggle(
            hass,
            f"link_too_slow_{subentry_id}",
            timing is not None,
            "link_too_slow",
            {
                "device": device.subentry.title,
                "group": "" if timing is None else timing.group.value,
                "asked": "" if timing is None else f"{timing.asked:g}",
                "achieved": ""
                if timing is None or timing.achieved is None
                else f"{timing.achieved:.1f}",
            },
        )


def _toggle(
    hass: HomeAssistant,
    issue_id: str,
    active: bool,
    translation_key: str,
    placeholders: dict[str, str],
    *,
    fixable: bool = False,
    data: dict[str, str | int | float | None] | None = None,
) -> None:
    """Create the issue while ``active`` holds, delete it once it does not."""
    if active:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=fixable,
            severity=ir.IssueSeverity.WARNING,
            translation_key=translation_key,
            translation_placeholders=placeholders,
            data=data,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def _expects_floats(profile: Profile) -> bool:
    """Whether the profile reads a meter's float registers (and can switch them on)."""
    return (
        profile.has_point(FLOAT_SWITCH)
        and any(point.data_type is DataType.F32 for point in profile.points)
        and any(command.key in _ENABLE_FLOATS for command in profile.commands)
    )


class EnableFloatRegisters(RepairsFlow):
    """Switch a PowerLogic meter's float registers on, after the user confirms."""

    def __init__(self, entry_id: str, subentry_id: str) -> None:
        """Remember which device to fix."""
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Ask for the confirmation (the meter saves its setup and restarts)."""
        device = self._device()
        if device is None:
            return self.async_abort(reason="device_gone")
        if user_input is not None:
            command = next(c.key for c in device.profile.commands if c.key in _ENABLE_FLOATS)
            entry = self.hass.config_entries.async_get_entry(self._entry_id)
            assert entry is not None  # found by _device above
            try:
                async with action_errors(entry.runtime_data, device):
                    await device.session.run_command(command, confirm=True)
            except HomeAssistantError:
                return self.async_abort(reason="command_failed")
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema({}),
            description_placeholders={"device": device.subentry.title},
        )

    def _device(self) -> PowerbusDevice | None:
        """Return the device the issue is about, if its link is loaded."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or not hasattr(entry, "runtime_data"):
            return None
        coordinator: PowerbusCoordinator = entry.runtime_data
        return coordinator.devices.get(self._subentry_id)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the flow that fixes a fixable issue."""
    assert data is not None  # every fixable issue carries its device
    return EnableFloatRegisters(str(data["entry_id"]), str(data["subentry_id"]))
