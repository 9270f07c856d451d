"""Diagnostics: what a link and its devices did, to attach to a support request.

Per device: its profile, the blocks of its last poll with their raw words, the
points in error (decode errors, refusals) with their raw words, the asked and
achieved poll intervals, bus statistics and the refusals it learned. Per link: its
settings, whether it is connected and the scheduler's shortfalls.

Nothing that identifies a site leaves: network addresses, serial ports and serial
numbers are redacted by key, every text that quotes one (titles, unique ids, error
messages) has it blanked out, and the raw words of a serial-number register are
withheld.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.loader import async_get_integration

from .const import CONF_SERIAL_NUMBER, CONF_SERIAL_PORT, DOMAIN
from .coordinator import PowerbusConfigEntry, PowerbusCoordinator, PowerbusDevice
from .engine import PointState, Table, link_id
from .settings import CONF_HOST

TO_REDACT = {CONF_HOST, CONF_SERIAL_PORT, CONF_SERIAL_NUMBER, "serial", "uid", "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PowerbusConfigEntry
) -> dict[str, Any]:
    """Describe the link and every device on it."""
    coordinator = entry.runtime_data
    return _redacted(
        {
            "versions": await _versions(hass),
            "link": _link(entry, coordinator),
            "devices": [_device(device) for device in coordinator.devices.values()],
        },
        _secrets(entry, coordinator, coordinator.devices.values()),
    )


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: PowerbusConfigEntry, device_entry: DeviceEntry
) -> dict[str, Any]:
    """Describe one device and the link it is on."""
    coordinator = entry.runtime_data
    uids = {ident for domain, ident in device_entry.identifiers if domain == DOMAIN}
    devices = [device for device in coordinator.devices.values() if device.uid in uids]
    return _redacted(
        {
            "versions": await _versions(hass),
            "link": _link(entry, coordinator),
            "devices": [_device(device) for device in devices],
        },
        _secrets(entry, coordinator, coordinator.devices.values()),
    )


async def _versions(hass: HomeAssistant) -> dict[str, str]:
    """Return the versions of Powerbus and of Home Assistant."""
    integration = await async_get_integration(hass, DOMAIN)
    return {"powerbus": str(integration.version), "home_assistant": HA_VERSION}


def _link(entry: PowerbusConfigEntry, coordinator: PowerbusCoordinator) -> dict[str, Any]:
    """Describe the link: its settings, its state and the scheduler's figures."""
    interval = coordinator.update_interval
    titles = {device.session: device.subentry.title for device in coordinator.devices.values()}
    return {
        "title": entry.title,
        "data": dict(entry.data),
        "options": dict(entry.options),
        "connected": coordinator.bus.connected,
        "last_update_success": coordinator.last_update_success,
        "update_interval": None if interval is None else interval.total_seconds(),
        "shortfalls": [
            {
                "device": titles.get(timing.session),
                "groups": [group.group.value for group in timing.groups if group.shortfall],
            }
            for timing in coordinator.scheduler.shortfalls()
        ],
    }


def _device(device: PowerbusDevice) -> dict[str, Any]:
    """Describe one device: profile, identity, last poll, timings, statistics."""
    session = device.session
    profile = device.profile
    snapshot = session.snapshot
    identity = snapshot.identity
    serial_words = _serial_words(device)
    return {
        "title": device.subentry.title,
        "data": dict(device.subentry.data),
        "uid": device.uid,
        "profile": {
            "key": profile.key,
            "name": profile.name,
            "family": profile.family,
            "firmware": profile.firmware,
            "source": profile.source_file,
        },
        "unit": session.unit,
        "identity": None
        if identity is None
        else {"model": identity.model, "serial": identity.serial, "firmware": identity.firmware},
        "available": snapshot.available,
        "error": snapshot.error,
        "identity_mismatch": snapshot.identity_mismatch,
        "polled_at": snapshot.polled_at,
        "last_success": snapshot.last_success,
        "enabled_points": sorted(session.enabled),
        "blocks": [
            {
                "table": block.table.value,
                "start": block.start,
                "count": block.count,
                "words": [
                    REDACTED if (block.table, block.start + offset) in serial_words else word
                    for offset, word in enumerate(block.values)
                ],
                "error": block.error,
            }
            for block in session.blocks
        ],
        "points_in_error": {
            key: {
                "state": reading.state.value,
                "error": reading.error,
                "raw": REDACTED if key == profile.serial_point else list(reading.raw),
            }
            for key, reading in snapshot.readings.items()
            if reading.state is not PointState.VALID
        },
        "timings": [
            {
                "group": timing.group.value,
                "asked": timing.asked,
                "achieved": timing.achieved,
                "shortfall": timing.shortfall,
            }
            for timing in session.timings()
        ],
        "statistics": session.stats.as_dict(),
        "learned_refusals": session.learned_refusals(),
    }


def _serial_words(device: PowerbusDevice) -> set[tuple[Table, int]]:
    """Return the addresses of the device's serial-number register(s)."""
    key = device.profile.serial_point
    if key is None:
        return set()
    point = device.profile.point(key)
    return {(point.table, address) for address in range(point.address, point.end + 1)}


def _secrets(
    entry: PowerbusConfigEntry, coordinator: PowerbusCoordinator, devices: Iterable[PowerbusDevice]
) -> set[str]:
    """Return every text that would identify the site: addresses, ports, serial numbers, ids."""
    secrets = {str(entry.data[key]) for key in (CONF_HOST, CONF_SERIAL_PORT) if entry.data.get(key)}
    secrets |= {secret.replace(".", "_") for secret in secrets}
    secrets.add(link_id(coordinator.link))
    for device in devices:
        identity = device.snapshot.identity
        for secret in (
            device.uid,
            device.subentry.data.get(CONF_SERIAL_NUMBER),
            identity.serial if identity else None,
            device.session.expected_serial,
        ):
            if secret:
                secrets.add(str(secret))
    return secrets


def _redacted(data: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    """Redact the identifying keys, then blank every secret out of the texts that remain."""
    ordered = sorted(secrets, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, str):
            for secret in ordered:
                value = value.replace(secret, REDACTED)
        return value

    redacted: dict[str, Any] = scrub(async_redact_data(data, TO_REDACT))
    return redacted
