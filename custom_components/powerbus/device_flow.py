"""Add a device to a link (a config subentry): by profile and unit id, or by scanning the link.

Nothing is created before the device answered and said who it is: the flow reads
its identity (and, where the profile has recognition probes, checks that the device
is what the profile describes). The subentry's unique id is the device uid, so the
same meter cannot be added twice, and a reconfigure that reaches another meter is
refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_PROFILE, CONF_SERIAL_NUMBER, CONF_UNIT, LOGGER, SUBENTRY_DEVICE
from .engine import (
    Bus,
    DeviceSession,
    Identity,
    LinkError,
    ModbusError,
    Profile,
    builtin_profiles,
    detect_profile,
    device_uid,
    get_profile,
    link_id,
    scan,
)
from .release import link_registry
from .settings import link_settings

CONF_METHOD = "method"
CONF_UNITS = "units"
CONF_FOUND = "found"
_MAX_UNIT = 247
_DEFAULT_SCAN = "1-10"


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one device on a link."""

    def __init__(self) -> None:
        """Start with nothing found."""
        self._found: list[Identity] = []
        self._units: list[int] = []
        self._scan_task: asyncio.Task[list[Identity]] | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose between naming the device and scanning the link for it."""
        return self.async_show_menu(step_id="user", menu_options=["manual", "scan"])

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Name the profile and unit id; the device must answer before it is added."""
        errors: dict[str, str] = {}
        if user_input is not None:
            profile = get_profile(user_input[CONF_PROFILE])
            unit = int(user_input[CONF_UNIT])
            result = await self._add(profile, unit, errors)
            if result is not None:
                return result
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(_device_schema(), user_input or {}),
            errors=errors,
        )

    async def async_step_scan(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask which unit ids to try."""
        errors: dict[str, str] = {}
        if user_input is not None:
            units = _units(user_input[CONF_UNITS])
            if units is None:
                errors[CONF_UNITS] = "invalid_units"
            else:
                self._units = units
                return await self.async_step_scanning()
        return self.async_show_form(
            step_id="scan",
            data_schema=vol.Schema(
                {vol.Required(CONF_UNITS, default=_DEFAULT_SCAN): selector.TextSelector()}
            ),
            errors=errors,
        )

    async def async_step_scanning(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Scan the unit ids, showing progress."""
        if self._scan_task is None:
            self._scan_task = self.hass.async_create_task(self._scan(self._units))
        if not self._scan_task.done():
            return self.async_show_progress(
                step_id="scanning",
                progress_action="scanning",
                progress_task=self._scan_task,
                description_placeholders={"units": str(len(self._units))},
            )
        try:
            self._found = self._scan_task.result()
        except LinkError:
            return self.async_show_progress_done(next_step_id="link_down")
        finally:
            self._scan_task = None
        return self.async_show_progress_done(next_step_id="pick")

    async def async_step_link_down(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Give up: the link could not be opened for the scan."""
        return self.async_abort(reason="cannot_open_link")

    async def async_step_pick(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Pick one of the devices that answered and were recognised."""
        known = self._configured_units()
        choices = {
            str(found.unit): f"{found.unit}: {found.profile.name}"
            + (f" ({found.serial})" if found.serial else "")
            for found in self._found
            if found.unit not in known
        }
        if not choices:
            return self.async_abort(reason="nothing_found")
        errors: dict[str, str] = {}
        if user_input is not None:
            picked = next(f for f in self._found if str(f.unit) == user_input[CONF_FOUND])
            result = await self._add(picked.profile, picked.unit, errors)
            if result is not None:
                return result
        return self.async_show_form(
            step_id="pick",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_FOUND): selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=[
                                selector.SelectOptionDict(value=value, label=label)
                                for value, label in choices.items()
                            ]
                        )
                    )
                }
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a device's unit id or profile; it must still be the same device."""
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            profile = get_profile(user_input[CONF_PROFILE])
            unit = int(user_input[CONF_UNIT])
            identified = await self._identify(profile, unit, errors, keep=subentry.subentry_id)
            if identified is not None:
                uid, serial = identified
                if uid != subentry.unique_id:
                    return self.async_abort(reason="different_device")
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    data={CONF_PROFILE: profile.key, CONF_UNIT: unit, CONF_SERIAL_NUMBER: serial},
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _device_schema(), user_input or dict(subentry.data)
            ),
            errors=errors,
        )

    # --- Inside -----------------------------------------------------------------------------
    async def _add(
        self, profile: Profile, unit: int, errors: dict[str, str]
    ) -> SubentryFlowResult | None:
        """Identify the device and create its subentry; note the error otherwise."""
        identified = await self._identify(profile, unit, errors)
        if identified is None:
            return None
        uid, serial = identified
        if any(s.unique_id == uid for s in self._get_entry().subentries.values()):
            return self.async_abort(reason="already_configured")
        return self.async_create_entry(
            title=f"{profile.name} {serial or f'unit {unit}'}",
            data={CONF_PROFILE: profile.key, CONF_UNIT: unit, CONF_SERIAL_NUMBER: serial},
            unique_id=uid,
        )

    async def _identify(
        self, profile: Profile, unit: int, errors: dict[str, str], keep: str | None = None
    ) -> tuple[str, str | None] | None:
        """Read the device's identity; return (device uid, serial) or note the error."""
        if unit in self._configured_units(except_subentry=keep):
            errors[CONF_UNIT] = "unit_in_use"
            return None
        settings = link_settings(self._get_entry().data)
        try:
            async with self._bus() as bus:
                if profile.detect and await detect_profile(bus, unit, [profile]) is None:
                    errors["base"] = "wrong_device"
                    return None
                snapshot = await DeviceSession(bus, profile, unit).refresh()
        except LinkError:
            errors["base"] = "cannot_open_link"
            return None
        except ModbusError as err:
            LOGGER.debug("unit %s did not answer: %s", unit, err)
            errors["base"] = "no_answer"
            return None
        if not snapshot.available:
            errors["base"] = "no_answer"
            return None
        serial = snapshot.identity.serial if snapshot.identity else None
        return device_uid(profile.family, serial, link_id(settings), unit), serial

    async def _scan(self, units: list[int]) -> list[Identity]:
        """Probe the unit ids with every shipped profile."""
        async with self._bus() as bus:
            return await scan(bus, units, list(builtin_profiles().values()))

    @asynccontextmanager
    async def _bus(self) -> AsyncIterator[Bus]:
        """Use the link's running bus, or borrow one while the link is not loaded."""
        entry = self._get_entry()
        if entry.state is ConfigEntryState.LOADED:
            yield entry.runtime_data.bus
            return
        registry = link_registry(self.hass)
        bus = registry.acquire(link_settings(entry.data))
        try:
            yield bus
        finally:
            registry.release(bus)

    def _configured_units(self, except_subentry: str | None = None) -> set[int]:
        """Return the unit ids already configured on this link."""
        return {
            int(subentry.data[CONF_UNIT])
            for subentry in self._get_entry().subentries.values()
            if subentry.subentry_type == SUBENTRY_DEVICE and subentry.subentry_id != except_subentry
        }


def _device_schema() -> vol.Schema:
    """Return the form of a profile and a unit id."""
    profiles = sorted(builtin_profiles().values(), key=lambda p: (p.manufacturer, p.name))
    return vol.Schema(
        {
            vol.Required(CONF_PROFILE): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[
                        selector.SelectOptionDict(value=p.key, label=f"{p.manufacturer} {p.name}")
                        for p in profiles
                    ],
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_UNIT, default=1): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=0, max=_MAX_UNIT, mode=selector.NumberSelectorMode.BOX
                )
            ),
        }
    )


def _units(text: str) -> list[int] | None:
    """Parse unit ids like ``1-10, 20``; None when the text is not that."""
    units: list[int] = []
    for part in text.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        low, high = int(first), int(last or first)
        if not 0 <= low <= high <= _MAX_UNIT:
            return None
        units.extend(range(low, high + 1))
    return sorted(set(units))
