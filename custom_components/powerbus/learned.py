"""Keep what each device refused ("illegal data address") across restarts.

The engine learns which reads a device refuses and plans around them; this store
keeps that knowledge per device (per config subentry) in Home Assistant's storage,
saved a little after it changes and at once when the link unloads (a reload reads it
back straight away), so a restart does not cost a round of refused reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from .coordinator import PowerbusConfigEntry, PowerbusCoordinator

_VERSION = 1
_SAVE_DELAY = 30.0


class LearnedRefusals:
    """The learned refusals of one link's devices, kept in Home Assistant's storage."""

    def __init__(self, hass: HomeAssistant, entry: PowerbusConfigEntry) -> None:
        """Use the storage file of this config entry."""
        self._store: Store[dict[str, Any]] = Store(
            hass, _VERSION, f"{DOMAIN}.{entry.entry_id}.learned_refusals"
        )
        self._known: dict[str, Any] = {}

    async def async_load(self) -> None:
        """Read what was kept (nothing on the first start)."""
        self._known = await self._store.async_load() or {}

    def of(self, subentry_id: str) -> dict[str, Any] | None:
        """Return what a device refused, as the engine exported it."""
        learned = self._known.get(subentry_id)
        return learned if isinstance(learned, dict) else None

    @callback
    def async_note(self, coordinator: PowerbusCoordinator) -> None:
        """Save, a little later, what the devices learned if it changed."""
        if self._take(coordinator):
            self._store.async_delay_save(lambda: self._known, _SAVE_DELAY)

    async def async_save(self, coordinator: PowerbusCoordinator) -> None:
        """Save what the devices learned now (the link is unloading)."""
        self._take(coordinator)
        await self._store.async_save(self._known)

    def _take(self, coordinator: PowerbusCoordinator) -> bool:
        """Take what the devices know now; return whether it differs from what was kept."""
        current = {
            subentry_id: device.session.learned_refusals()
            for subentry_id, device in coordinator.devices.items()
        }
        if current == self._known:
            return False
        self._known = current
        return True
