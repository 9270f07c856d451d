"""Add a device to a link (a config subentry): by profile and unit id, or by scanning the link.

Nothing is created before the device answered and said who it is: the flow reads
the device once with its profile (identity included) and, where the profile has
recognition probes, checks that the device is what the profile describes. The
subentry's unique id is the device uid (the engine's rule: by serial number where
the device has one), so one meter cannot be added twice, on this link or another;
a reconfigure that reaches another meter is refused. Failures are shown on the field
they concern: a unit id in use or silent on the unit id, a wrong model on the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.helpers import selector
import voluptuous as vol

from .const import CONF_PROFILE, CONF_SERIAL_NUMBER, CONF_UNIT, DOMAIN, LOGGER, SUBENTRY_DEVICE
from .engine import (
    Bus,
    DeviceSession,
    Identity,
    LinkConflictError,
    LinkError,
    ModbusError,
    Profile,
    ProfileError,
    ProfileLibrary,
    ScanResult,
    device_uid,
    link_id,
    recognise,
    scan,
)
from .release import async_load_profiles, link_registry, profile_library
from .settings import link_settings

CONF_UNITS = "units"
CONF_FOUND = "found"
_MAX_UNIT = 255
"""Modbus TCP devices and gateways may use any unit id up to 255 (an EGX100 answers at 254)."""
_DEFAULT_SCAN = "1-10"
_LINK_DOWN = "cannot_open_link"
_NO_ANSWER = "no_answer"
_WRONG_DEVICE = "wrong_device"
_UNIT_IN_USE = "unit_in_use"
_FIELD_OF = {_NO_ANSWER: CONF_UNIT, _UNIT_IN_USE: CONF_UNIT, _WRONG_DEVICE: CONF_PROFILE}
"""The form field each failure of the manual and reconfigure forms is shown on."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """Who answered at a unit id: the device uid and the serial number it reported."""

    uid: str
    serial: str | None


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one device on a link."""

    def __init__(self) -> None:
        """Start with nothing found."""
        self._found: tuple[Identity, ...] = ()
        self._unrecognised: tuple[int, ...] = ()
        self._units: list[int] = []
        self._scan_task: asyncio.Task[ScanResult] | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose between naming the device and scanning the link for it."""
        return self.async_show_menu(step_id="user", menu_options=["manual", "scan"])

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Name the profile and unit id; the device must answer before it is added."""
        errors: dict[str, str] = {}
        library = await async_load_profiles(self.hass)
        if user_input is not None:
            profile = library.get(user_input[CONF_PROFILE])
            unit = int(user_input[CONF_UNIT])
            answer = await self._identify(profile, unit)
            if isinstance(answer, _Answer):
                return self._create(profile, unit, answer)
            errors[_FIELD_OF.get(answer, "base")] = answer
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(
                _device_schema(library.profiles), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_scan(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask which unit ids to try."""
        errors: dict[str, str] = {}
        library = await async_load_profiles(self.hass)
        if user_input is not None:
            units = _units(user_input[CONF_UNITS])
            if units is None:
                errors[CONF_UNITS] = "invalid_units"
            else:
                self._units = units
                return await self.async_step_scanning()
        return self.async_show_form(
            step_id="scan",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_UNITS): selector.TextSelector()}),
                user_input or {CONF_UNITS: _DEFAULT_SCAN},
            ),
            errors=errors,
            description_placeholders={"models": _recognisable(library.profiles)},
        )

    async def async_step_scanning(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Scan the unit ids, showing progress; the flow goes on when the scan is over."""
        if self._scan_task is None:
            self._scan_task = self.hass.async_create_task(self._scan(self._units))
        if not self._scan_task.done():
            return self.async_show_progress(
                step_id="scanning",
                progress_action="scanning",
                progress_task=self._scan_task,
                description_placeholders={"units": str(len(self._units))},
            )
        task, self._scan_task = self._scan_task, None
        try:
            result = task.result()
        except (LinkError, LinkConflictError) as err:
            LOGGER.debug("scan of %s ended: %s", self._get_entry().title, err)
            return self.async_show_progress_done(next_step_id="link_down")
        self._found = result.found
        self._unrecognised = tuple(unit.unit for unit in result.unrecognised)
        return self.async_show_progress_done(next_step_id="pick")

    async def async_step_link_down(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Give up: the link could not be opened for the scan."""
        return self.async_abort(reason=_LINK_DOWN)

    async def async_step_pick(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Pick one of the devices that answered and were recognised.

        Unit ids that answered but that no profile fits are named, so that the user
        can add them by model and unit id.
        """
        known = self._configured_units()
        others = ", ".join(str(unit) for unit in self._unrecognised if unit not in known)
        choices = {
            _choice(found, profile): (found, profile)
            for found in self._found
            if found.unit not in known
            for profile in found.candidates or (found.profile,)
        }
        if not choices:
            if others:
                return self.async_abort(
                    reason="only_unrecognised", description_placeholders={"units": others}
                )
            return self.async_abort(reason="nothing_found")
        errors: dict[str, str] = {}
        if user_input is not None:
            picked, profile = choices[user_input[CONF_FOUND]]
            answer = await self._identify(profile, picked.unit)
            if isinstance(answer, _Answer):
                return self._create(profile, picked.unit, answer)
            errors["base" if answer == _LINK_DOWN else CONF_FOUND] = answer
        options = [
            selector.SelectOptionDict(value=value, label=_label(found, profile))
            for value, (found, profile) in choices.items()
        ]
        return self.async_show_form(
            step_id="pick",
            description_placeholders={"unrecognised": others or "–"},
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_FOUND): selector.SelectSelector(
                        selector.SelectSelectorConfig(options=options)
                    )
                }
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a device's unit id or profile; it must still be the same device.

        The same device is one of the same family whose serial number, where both the
        stored and the new reading have one, is the same. The subentry keeps its unique
        id, so the device keeps its entities.
        """
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        library = await async_load_profiles(self.hass)
        if user_input is not None:
            profile = library.get(user_input[CONF_PROFILE])
            unit = int(user_input[CONF_UNIT])
            answer = await self._identify(profile, unit, keep=subentry)
            if isinstance(answer, _Answer):
                if not _same_device(subentry, profile, answer, library):
                    return self.async_abort(reason="different_device")
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    data={
                        CONF_PROFILE: profile.key,
                        CONF_UNIT: unit,
                        CONF_SERIAL_NUMBER: answer.serial or subentry.data.get(CONF_SERIAL_NUMBER),
                    },
                )
            errors[_FIELD_OF.get(answer, "base")] = answer
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _device_schema(library.profiles), user_input or dict(subentry.data)
            ),
            errors=errors,
        )

    # --- Inside -----------------------------------------------------------------------------
    def _create(self, profile: Profile, unit: int, answer: _Answer) -> SubentryFlowResult:
        """Create the device's subentry, unless that device is configured already."""
        if any(
            subentry.unique_id == answer.uid
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            for subentry in entry.subentries.values()
        ):
            return self.async_abort(reason="already_configured")
        return self.async_create_entry(
            title=f"{profile.name} {answer.serial or f'unit {unit}'}",
            data={CONF_PROFILE: profile.key, CONF_UNIT: unit, CONF_SERIAL_NUMBER: answer.serial},
            unique_id=answer.uid,
        )

    async def _identify(
        self, profile: Profile, unit: int, keep: ConfigSubentry | None = None
    ) -> _Answer | str:
        """Read the device at ``unit`` with ``profile``; return who it is, or why not (a key).

        The device is recognised first (among the variants of the profile's family),
        then read once whole. A device that stays silent, or that a gateway reports
        unreachable, is ``no_answer``; one that its family's rules do not take for
        this variant is ``wrong_device``.
        """
        if unit in self._configured_units(except_subentry=keep):
            return _UNIT_IN_USE
        settings = link_settings(self._get_entry().data)
        try:
            async with self._bus() as bus:
                recognised = not profile.recognisable or profile in await recognise(
                    bus,
                    unit,
                    [p for p in self._profiles().values() if p.family == profile.family],
                )
                snapshot = await DeviceSession(bus, profile, unit).refresh()
        except (LinkError, LinkConflictError) as err:
            LOGGER.debug("%s cannot be opened: %s", settings.describe(), err)
            return _LINK_DOWN
        except ModbusError as err:
            LOGGER.debug("unit %s does not answer: %s", unit, err)
            return _NO_ANSWER
        if not snapshot.available:
            LOGGER.debug("unit %s does not answer: %s", unit, snapshot.error)
            return _NO_ANSWER
        if not recognised:
            return _WRONG_DEVICE
        serial = snapshot.identity.serial if snapshot.identity else None
        return _Answer(device_uid(profile.family, serial, link_id(settings), unit), serial)

    async def _scan(self, units: list[int]) -> ScanResult:
        """Probe the unit ids with every shipped profile, reporting progress where it can."""
        update = getattr(self, "async_update_progress", None)
        async with self._bus() as bus:
            return await scan(
                bus,
                units,
                list(self._profiles().values()),
                None if update is None else lambda step: update(step.fraction),
            )

    @asynccontextmanager
    async def _bus(self) -> AsyncIterator[Bus]:
        """Use the link's running bus, or borrow one while the link is not loaded; open it.

        Raises LinkError when the link cannot be opened (a closed link is not a silent device).
        """
        entry: ConfigEntry = self._get_entry()
        if entry.state is ConfigEntryState.LOADED:
            bus: Bus = entry.runtime_data.bus
            await bus.open()
            yield bus
            return
        registry = link_registry(self.hass)
        bus = registry.acquire(link_settings(entry.data))
        try:
            await bus.open()
            yield bus
        finally:
            registry.release(bus)

    def _profiles(self) -> Mapping[str, Profile]:
        """Return the profiles this flow last loaded (the shipped ones before any)."""
        return profile_library(self.hass).profiles

    def _configured_units(self, except_subentry: ConfigSubentry | None = None) -> set[int]:
        """Return the unit ids already configured on this link."""
        return {
            int(subentry.data[CONF_UNIT])
            for subentry in self._get_entry().subentries.values()
            if subentry.subentry_type == SUBENTRY_DEVICE
            and (except_subentry is None or subentry.subentry_id != except_subentry.subentry_id)
        }


def _same_device(
    subentry: ConfigSubentry, profile: Profile, answer: _Answer, library: ProfileLibrary
) -> bool:
    """Whether what answered is the subentry's device: same family, same serial if known."""
    try:
        family = library.get(subentry.data[CONF_PROFILE]).family
    except ProfileError:
        family = profile.family
    stored = subentry.data.get(CONF_SERIAL_NUMBER)
    return family == profile.family and (
        stored is None or answer.serial is None or stored == answer.serial
    )


def _recognisable(profiles: Mapping[str, Profile]) -> str:
    """Name the models a scan can recognise (those whose profile has detection rules)."""
    return ", ".join(
        sorted({f"{p.manufacturer} {p.name}" for p in profiles.values() if p.recognisable})
    )


def _choice(found: Identity, profile: Profile) -> str:
    """Return the value of a scan's pick: the unit id, and the variant when it was not told."""
    return str(found.unit) if found.variant_known else f"{found.unit}:{profile.key}"


def _label(found: Identity, profile: Profile) -> str:
    """Name a device found by a scan: unit id, model and serial number (and its doubt)."""
    serial = f" ({found.serial})" if found.serial else ""
    doubt = "" if found.variant_known else f" (one of {len(found.candidates)} possible models)"
    return f"{found.unit}: {profile.manufacturer} {profile.name}{serial}{doubt}"


def _device_schema(known: Mapping[str, Profile]) -> vol.Schema:
    """Return the form of a profile (shipped or the user's) and a unit id."""
    profiles = sorted(known.values(), key=lambda p: (p.manufacturer, p.name))
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
        first, dash, last = part.partition("-")
        if not first.isdecimal() or (dash and not last.isdecimal()):
            return None
        low, high = int(first), int(last or first)
        if not 0 <= low <= high <= _MAX_UNIT:
            return None
        units.extend(range(low, high + 1))
    return sorted(set(units))
