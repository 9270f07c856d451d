"""Diagnostics: what a link and its devices did, to attach to a support request.

Per device: its profile, the blocks of its last poll with their raw words, the
points in error, the asked and achieved poll intervals, bus statistics and the
refusals it learned. Serial numbers and network addresses are redacted.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_SERIAL_NUMBER, CONF_SERIAL_PORT
from .coordinator import PowerbusConfigEntry, PowerbusDevice
from .engine import PointState
from .settings import CONF_HOST

TO_REDACT = {CONF_HOST, CONF_SERIAL_PORT, CONF_SERIAL_NUMBER, "serial", "uid", "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PowerbusConfigEntry
) -> dict[str, Any]:
    """Describe the link and every device on it."""
    coordinator = entry.runtime_data
    return async_redact_data(
        {
            "link": {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "last_update_success": coordinator.last_update_success,
            },
            "devices": [_device(device) for device in coordinator.devices.values()],
        },
        TO_REDACT,
    )


def _device(device: PowerbusDevice) -> dict[str, Any]:
    """Describe one device: profile, identity, last poll, timings, statistics."""
    session = device.session
    snapshot = session.snapshot
    identity = snapshot.identity
    return {
        "title": device.subentry.title,
        "data": dict(device.subentry.data),
        "uid": device.uid,
        "profile": {"key": device.profile.key, "source": device.profile.source_file},
        "unit": session.unit,
        "identity": None
        if identity is None
        else {"model": identity.model, "serial": identity.serial, "firmware": identity.firmware},
        "available": snapshot.available,
        "error": snapshot.error,
        "identity_mismatch": snapshot.identity_mismatch,
        "enabled_points": sorted(session.enabled),
        "blocks": [
            {
                "table": block.table.value,
                "start": block.start,
                "count": block.count,
                "words": list(block.values),
                "error": block.error,
            }
            for block in session.blocks
        ],
        "points_in_error": {
            key: {"state": reading.state.value, "error": reading.error, "raw": list(reading.raw)}
            for key, reading in snapshot.readings.items()
            if reading.state is not PointState.VALID
        },
        "timings": [
            {"group": t.group.value, "asked": t.asked, "achieved": t.achieved}
            for t in session.timings()
        ],
        "statistics": session.stats.as_dict(),
        "learned_refusals": session.learned_refusals(),
    }
