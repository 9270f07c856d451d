"""Repairs: problems with a link or a device that the user can act on.

- **identity_mismatch**: another device answers at a configured unit id (a meter was
  swapped, or a unit id changed). Its values are not shown; reconfigure the device.
  The issue follows the identity read after every (re)connect and outage, so it
  clears as soon as the configured device answers again.
- **float_registers_off**: a PowerLogic meter configured with its float-register
  profile has its float registers switched off, so its real-time values cannot be
  read. Fixable: the repair runs the meter's "enable float registers" command. While
  the switch cannot be read (the meter does not answer) the issue stays as it was.
- **link_too_slow**: the line cannot read a device's groups as often as asked; the
  issue gives the asked and the achieved interval, from the scheduler's figure.
  Lengthen the intervals (options) or move devices to another line.

The scheduler reports a shortfall when the mean interval of a group's last eight
polls exceeds the asked one by more than its tolerance (a quarter, and a tenth of a
second). A spell of slow polls (a long command, retries, a reconnect) keeps that mean
up for up to seven polls after it ended, so the scheduler may report a shortfall for
a spell's length and seven polls more. The issue is raised only once the shortfall
has lasted :data:`SLOW_POLLS_BEFORE_ISSUE` polls of the device in a row, which takes
more than eight slow polls: a spell shorter than the scheduler's window never raises
it. While a device of the link does not answer nothing is counted (its timeouts slow
the line, and its unavailability is shown already). The issue clears at the first
poll without a shortfall, so near the limit it comes and goes at most once every
:data:`SLOW_POLLS_BEFORE_ISSUE` polls.
Every issue of a link is cleared when the link unloads (a reload checks again), except
when its set-up failed and will be retried; issues of removed devices are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import voluptuous as vol

from .const import DOMAIN
from .engine import DataType, GroupTiming, Profile
from .errors import action_errors

if TYPE_CHECKING:
    from .coordinator import PowerbusCoordinator, PowerbusDevice

FLOAT_SWITCH = "float_registers"
FLOATS_OFF = "disabled"
_ENABLE_FLOATS = ("enable_float_registers_pm800", "enable_float_registers_cm")

ISSUE_IDENTITY_MISMATCH: Final = "identity_mismatch"
ISSUE_FLOAT_REGISTERS_OFF: Final = "float_registers_off"
ISSUE_LINK_TOO_SLOW: Final = "link_too_slow"
ISSUE_COUNTER_REFUSED: Final = "counter_refused"
ISSUES: Final = (
    ISSUE_IDENTITY_MISMATCH,
    ISSUE_FLOAT_REGISTERS_OFF,
    ISSUE_LINK_TOO_SLOW,
    ISSUE_COUNTER_REFUSED,
)

TIMING_WINDOW: Final = 8
"""The poll starts the scheduler's achieved interval is the mean over (seven intervals)."""
SLOW_POLLS_BEFORE_ISSUE: Final = 2 * TIMING_WINDOW - 1
"""Polls in a row with a shortfall before link_too_slow is raised: a spell of slow polls
keeps the mean up for up to ``TIMING_WINDOW - 1`` polls after it, so this many need
more than ``TIMING_WINDOW`` slow ones."""


def repair_points(profile: Profile) -> set[str]:
    """Return the points a device must read for its repairs to be noticed."""
    return {FLOAT_SWITCH} if _expects_floats(profile) else set()


def device_issue_id(kind: str, subentry_id: str) -> str:
    """Return the id of issue ``kind`` of the device configured as ``subentry_id``."""
    return f"{kind}_{subentry_id}"


@callback
def async_watch_repairs(hass: HomeAssistant, coordinator: PowerbusCoordinator) -> CALLBACK_TYPE:
    """Check the link's issues after every refresh; the returned callback stops watching.

    Stopping clears the link's issues, unless the link stops because its set-up will
    be tried again: what its first refresh found (a foreign device, say) stays shown.
    Issues of devices no longer configured anywhere are dropped when a link starts.
    """
    _drop_orphaned_issues(hass)
    watch = _RepairWatch(hass, coordinator)
    stop_listening = coordinator.async_add_listener(watch.check)

    @callback
    def stop() -> None:
        stop_listening()
        if coordinator.config_entry.state is not ConfigEntryState.SETUP_RETRY:
            watch.clear()

    return stop


@callback
def _drop_orphaned_issues(hass: HomeAssistant) -> None:
    """Delete the issues of devices whose subentry no longer exists."""
    configured = {
        subentry_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry_id in entry.subentries
    }
    registry = ir.async_get(hass)
    for domain, issue in list(registry.issues):
        if domain != DOMAIN:
            continue
        kind = next((k for k in ISSUES if issue.startswith(f"{k}_")), None)
        if kind is not None and issue.removeprefix(f"{kind}_") not in configured:
            ir.async_delete_issue(hass, DOMAIN, issue)


class _RepairWatch:
    """Raises and clears the issues of one link's devices from what each refresh left."""

    def __init__(self, hass: HomeAssistant, coordinator: PowerbusCoordinator) -> None:
        """Watch ``coordinator``'s devices."""
        self._hass = hass
        self._coordinator = coordinator
        self._slow_polls: dict[str, int] = {}
        self._last_poll: dict[str, float | None] = {}

    @callback
    def check(self) -> None:
        """Raise or clear every issue of the link after a refresh."""
        devices = self._coordinator.devices
        shortfalls = {
            timing.session: timing.groups for timing in self._coordinator.scheduler.shortfalls()
        }
        outage = any(not d.snapshot.available for d in devices.values())
        for subentry_id, device in devices.items():
            self._check_identity(subentry_id, device)
            self._check_floats(subentry_id, device)
            self._check_counters(subentry_id, device)
            if not outage:
                self._check_speed(subentry_id, device, shortfalls.get(device.session, ()))

    @callback
    def clear(self) -> None:
        """Delete every issue of the link's devices."""
        for subentry_id in self._coordinator.devices:
            for kind in ISSUES:
                ir.async_delete_issue(self._hass, DOMAIN, device_issue_id(kind, subentry_id))

    def _check_identity(self, subentry_id: str, device: PowerbusDevice) -> None:
        """Raise the issue while a device other than the configured one answers at its unit id."""
        snapshot = device.snapshot
        self._toggle(
            ISSUE_IDENTITY_MISMATCH,
            subentry_id,
            snapshot.identity_mismatch,
            {"device": device.subentry.title, "error": snapshot.error or ""},
            severity=ir.IssueSeverity.ERROR,
        )

    def _check_floats(self, subentry_id: str, device: PowerbusDevice) -> None:
        """Raise the issue while a float-variant meter reports its float registers off.

        While the switch cannot be read the issue stays as it was.
        """
        if not _expects_floats(device.profile):
            return
        switch = device.snapshot.value(FLOAT_SWITCH)
        if switch is None:
            return
        self._toggle(
            ISSUE_FLOAT_REGISTERS_OFF,
            subentry_id,
            switch == FLOATS_OFF,
            {"device": device.subentry.title},
            fixable=True,
            data={"entry_id": self._coordinator.config_entry.entry_id, "subentry_id": subentry_id},
        )

    def _check_counters(self, subentry_id: str, device: PowerbusDevice) -> None:
        """Raise the issue while an energy counter's readings are refused (it went back or jumped)."""
        refused = sorted(device.session.refused_counters)
        readings = device.snapshot.readings
        self._toggle(
            ISSUE_COUNTER_REFUSED,
            subentry_id,
            bool(refused),
            {
                "device": device.subentry.title,
                "counters": ", ".join(device.profile.point(key).name for key in refused),
                "error": "; ".join(readings[key].error or "" for key in refused if key in readings),
            },
            fixable=True,
            data={"entry_id": self._coordinator.config_entry.entry_id, "subentry_id": subentry_id},
        )

    def _check_speed(
        self, subentry_id: str, device: PowerbusDevice, short: tuple[GroupTiming, ...]
    ) -> None:
        """Count the device's polls with a shortfall; raise the issue once it persists."""
        polled_at = device.snapshot.polled_at
        if polled_at is None or polled_at == self._last_poll.get(subentry_id):
            return
        self._last_poll[subentry_id] = polled_at
        worst = max(
            (t for t in short if t.shortfall and t.achieved is not None),
            key=lambda t: (t.achieved or 0.0) / t.asked,
            default=None,
        )
        if worst is None:
            self._slow_polls.pop(subentry_id, None)
            ir.async_delete_issue(
                self._hass, DOMAIN, device_issue_id(ISSUE_LINK_TOO_SLOW, subentry_id)
            )
            return
        self._slow_polls[subentry_id] = self._slow_polls.get(subentry_id, 0) + 1
        if self._slow_polls[subentry_id] >= SLOW_POLLS_BEFORE_ISSUE:
            self._toggle(
                ISSUE_LINK_TOO_SLOW,
                subentry_id,
                True,
                {
                    "device": device.subentry.title,
                    "group": worst.group.value,
                    "asked": f"{worst.asked:g}",
                    "achieved": f"{worst.achieved:.1f}",
                },
            )

    def _toggle(
        self,
        kind: str,
        subentry_id: str,
        active: bool,
        placeholders: dict[str, str],
        *,
        severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
        fixable: bool = False,
        data: dict[str, str | int | float | None] | None = None,
    ) -> None:
        """Create the issue while ``active`` holds, delete it once it does not."""
        if not active:
            ir.async_delete_issue(self._hass, DOMAIN, device_issue_id(kind, subentry_id))
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            device_issue_id(kind, subentry_id),
            is_fixable=fixable,
            severity=severity,
            translation_key=kind,
            translation_placeholders=placeholders,
            data=data,
        )


def _expects_floats(profile: Profile) -> bool:
    """Whether the profile reads a meter's float registers (and can switch them on)."""
    return (
        profile.has_point(FLOAT_SWITCH)
        and any(point.data_type is DataType.F32 for point in profile.points)
        and any(command.key in _ENABLE_FLOATS for command in profile.commands)
    )


class _DeviceRepair(RepairsFlow):
    """A repair of one device: confirm, act, read the device again."""

    def __init__(self, entry_id: str, subentry_id: str) -> None:
        """Remember which device to fix."""
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Start with the confirmation (the flow's start data is no answer to it)."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Ask for the confirmation, then act and read the device again."""
        found = self._device()
        if found is None:
            return self.async_abort(reason="device_gone")
        coordinator, device = found
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                data_schema=vol.Schema({}),
                description_placeholders={"device": device.subentry.title},
            )
        try:
            async with action_errors(coordinator, device):
                await self._act(device)
        except HomeAssistantError as err:
            return self.async_abort(
                reason="command_failed", description_placeholders={"error": str(err)}
            )
        await coordinator.async_request_refresh()
        return self.async_create_entry(data={})

    async def _act(self, device: PowerbusDevice) -> None:
        """Do what fixes the issue."""
        raise NotImplementedError

    def _device(self) -> tuple[PowerbusCoordinator, PowerbusDevice] | None:
        """Return the device the issue is about and its link, if the link is loaded."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: PowerbusCoordinator = entry.runtime_data
        device = coordinator.devices.get(self._subentry_id)
        return None if device is None else (coordinator, device)


class EnableFloatRegisters(_DeviceRepair):
    """Switch a PowerLogic meter's float registers on, after the user confirms."""

    async def _act(self, device: PowerbusDevice) -> None:
        """Run the meter's "enable float registers" command."""
        command = next(c.key for c in device.profile.commands if c.key in _ENABLE_FLOATS)
        await device.session.run_command(command, confirm=True)


class AcceptCounterReading(_DeviceRepair):
    """Show an energy counter's new reading after all (a meter reset at the meter itself)."""

    async def _act(self, device: PowerbusDevice) -> None:
        """Let the next reading of the refused counters through."""
        device.session.accept_counters(device.session.refused_counters)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the flow that fixes a fixable issue."""
    assert data is not None  # every fixable issue carries its device
    flow = (
        AcceptCounterReading if issue_id.startswith(ISSUE_COUNTER_REFUSED) else EnableFloatRegisters
    )
    return flow(str(data["entry_id"]), str(data["subentry_id"]))
