"""One coordinator per link: it drives the engine's scheduler and holds each device's state.

The coordinator ticks at the link's fast interval; at every tick the engine's
scheduler polls the devices whose groups are due, in strict order, reading only the
points that enabled entities need (each entity registers the points it reads as its
coordinator context). A device that stops answering makes its entities unavailable
within one poll, is logged once when it goes and once when it comes back, and comes
back by itself; when no device on the link answers, the update fails as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeAlias

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER
from .engine import (
    Bus,
    DeviceSession,
    DeviceSnapshot,
    EntitySpec,
    EntityState,
    LinkSettings,
    Profile,
    Scheduler,
    Value,
    Vocabulary,
    entity_states,
    operate,
)
from .repairs import repair_points

GATEWAY_FAMILY = "gateways"
"""The profile family of Modbus gateways: the other devices on their link sit behind them."""


@dataclass(kw_only=True)
class PowerbusDevice:
    """A configured device on the link: its subentry, session, entities and latest state."""

    subentry: ConfigSubentry
    uid: str
    session: DeviceSession
    specs: tuple[EntitySpec, ...]
    states: dict[str, EntityState] = field(default_factory=dict)
    reported_unavailable: bool = False

    @property
    def profile(self) -> Profile:
        """The device's profile."""
        return self.session.profile

    @property
    def snapshot(self) -> DeviceSnapshot:
        """The device's latest snapshot."""
        return self.session.snapshot


@dataclass(kw_only=True)
class PowerbusData:
    """What one refresh of the link produced, per device (keyed by subentry id)."""

    snapshots: dict[str, DeviceSnapshot]


PowerbusConfigEntry: TypeAlias = ConfigEntry["PowerbusCoordinator"]


class PowerbusCoordinator(DataUpdateCoordinator[PowerbusData]):
    """Polls the devices of one link through the engine's scheduler."""

    config_entry: PowerbusConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PowerbusConfigEntry,
        *,
        bus: Bus,
        link: LinkSettings,
        devices: Iterable[PowerbusDevice],
        vocabulary: Vocabulary,
    ) -> None:
        """Take the link's bus and its devices, and tick at the fastest interval."""
        self.bus = bus
        self.link = link
        self.vocabulary = vocabulary
        self.devices: dict[str, PowerbusDevice] = {d.subentry.subentry_id: d for d in devices}
        self.scheduler = Scheduler([d.session for d in self.devices.values()])
        fastest = min((d.session.intervals.fast for d in self.devices.values()), default=60.0)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {link.describe()}",
            update_interval=timedelta(seconds=fastest),
            always_update=False,
        )

    async def _async_update_data(self) -> PowerbusData:
        """Poll what is due, with only the points enabled entities need."""
        self._enable_points()
        await self.scheduler.run_due()
        for device in self.devices.values():
            device.states = entity_states(device.profile, device.specs, device.snapshot)
            self._log_availability(device)
        snapshots = {sid: d.snapshot for sid, d in self.devices.items()}
        if snapshots and not any(s.available for s in snapshots.values()):
            errors = {s.error for s in snapshots.values() if s.error}
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="link_unreachable",
                translation_placeholders={
                    "link": self.link.describe(),
                    "error": "; ".join(sorted(errors)) or "no answer",
                },
            )
        return PowerbusData(snapshots=snapshots)

    async def operate(self, device: PowerbusDevice, spec: EntitySpec, value: Value | None) -> None:
        """Do what a user asked of an entity, then show the device's new state at once."""
        await operate(device.session, spec, value)
        device.states = entity_states(device.profile, device.specs, device.snapshot)
        self.async_update_listeners()

    def gateway_of(self, device: PowerbusDevice) -> PowerbusDevice | None:
        """Return the gateway on this link that ``device`` is reached through, if one is configured."""
        if device.profile.family == GATEWAY_FAMILY:
            return None
        return next((d for d in self.devices.values() if d.profile.family == GATEWAY_FAMILY), None)

    def _enable_points(self) -> None:
        """Tell each session which points its enabled entities read.

        Before the entities are added (the first refresh) the sessions keep what
        setup gave them: the entities the registry has enabled.
        """
        contexts = list(self.async_contexts())
        if not contexts:
            return
        wanted = {sid: repair_points(d.profile) for sid, d in self.devices.items()}
        for context in contexts:
            subentry_id, keys = context
            if subentry_id in wanted:
                wanted[subentry_id].update(keys)
        for subentry_id, keys in wanted.items():
            session = self.devices[subentry_id].session
            if keys != session.enabled:
                session.set_enabled(keys)

    def _log_availability(self, device: PowerbusDevice) -> None:
        """Log once when a device stops answering and once when it is back."""
        snapshot = device.snapshot
        if snapshot.polled_at is None:
            return
        if not snapshot.available and not device.reported_unavailable:
            device.reported_unavailable = True
            LOGGER.info("%s is unavailable: %s", device.subentry.title, snapshot.error)
        elif snapshot.available and device.reported_unavailable:
            device.reported_unavailable = False
            LOGGER.info("%s is available again", device.subentry.title)
