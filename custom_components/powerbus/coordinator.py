"""One coordinator per link: it drives the engine's scheduler and holds each device's state.

The coordinator ticks at the link's fast interval; at every tick the engine's
scheduler polls the devices whose groups are due, in strict order, reading only the
points that enabled entities need (each entity registers the points it reads as its
coordinator context). UPS units come first in that order, and each device's entities
show its new state as soon as it was polled, so a UPS going on battery does not wait
for the meters on a busy line. A device that stops answering makes its entities unavailable
within one poll, is logged once when it goes and once when it comes back, and comes
back by itself; when no device on the link answers, the update fails as a whole (and
Home Assistant logs that, once, for the whole link). Identity read after a reconnect
(model, serial number, firmware) is written to the device registry when it changes.

The engine reads time through :func:`monotonic_seconds` and :func:`wall_seconds`, which
look the clock up in :mod:`time` at every call: a test that freezes and moves Home
Assistant's time moves the engine's schedule with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
import time
from typing import TypeAlias

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER
from .engine import (
    Bus,
    DeviceIdentity,
    DeviceSession,
    DeviceSnapshot,
    EntitySpec,
    EntityState,
    LinkSettings,
    Profile,
    Scheduler,
    Source,
    Value,
    Vocabulary,
    entity_states,
    operate,
)
from .repairs import repair_points

_SHORTEST_TICK = 1.0
"""Home Assistant schedules refreshes to whole seconds; a shorter wait would spin."""
GATEWAY_FAMILY = "gateways"
"""The profile family of Modbus gateways: the other devices on their link sit behind them."""


def monotonic_seconds() -> float:
    """Return the monotonic seconds the engine schedules polls and back-offs by."""
    return time.monotonic()


def wall_seconds() -> float:
    """Return the wall-clock seconds the engine stamps readings with."""
    return time.time()


def _is_ups(device: PowerbusDevice) -> bool:
    """Whether the device is a UPS (it has the derived UPS entities)."""
    return any(spec.source is Source.UPS for spec in device.specs)


def registered_device(hass: HomeAssistant, entry_id: str, uid: str) -> dr.DeviceEntry | None:
    """Return a Powerbus device of a config entry from the device registry.

    Home Assistant 2026.10 and later look a device up by identifier within its config
    entry; older releases only know the lookup across entries.
    """
    registry = dr.async_get(hass)
    lookup = getattr(registry, "async_get_device_by_identifier", None)
    if lookup is not None:
        device: dr.DeviceEntry | None = lookup((DOMAIN, uid), entry_id)
        return device
    return registry.async_get_device(identifiers={(DOMAIN, uid)})


@dataclass(kw_only=True)
class PowerbusDevice:
    """A configured device on the link: its subentry, session, entities and latest state."""

    subentry: ConfigSubentry
    uid: str
    session: DeviceSession
    specs: tuple[EntitySpec, ...]
    states: dict[str, EntityState] = field(default_factory=dict)
    reported_unavailable: bool = False
    registered_identity: DeviceIdentity | None = None

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
        self._by_session = {d.session: d for d in self.devices.values()}
        ups_first = sorted(self.devices.values(), key=lambda d: not _is_ups(d))
        self.scheduler = Scheduler([d.session for d in ups_first], clock=monotonic_seconds)
        fastest = min((d.session.intervals.fast for d in self.devices.values()), default=60.0)
        self._longest_tick = fastest
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
        await self.scheduler.run_due(self._show_poll)
        self._tick_when_next_due()
        snapshots = {sid: d.snapshot for sid, d in self.devices.items()}
        link_answers = not snapshots or any(s.available for s in snapshots.values())
        for device in self.devices.values():
            device.states = entity_states(device.profile, device.specs, device.snapshot)
            self._note_availability(device, link_log=self.last_update_success and link_answers)
            self._note_identity(device)
        if not link_answers:
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

    def _tick_when_next_due(self) -> None:
        """Come back when the scheduler's next device is due, not an interval after this refresh.

        Counting the interval from the end of a refresh would add every poll's duration to
        the interval achieved; the scheduler knows when each group is due. A coordinator
        whose timer was stopped (no interval) stays stopped.
        """
        if self.update_interval is None:
            return
        due = self.scheduler.next_due()
        delay = self._longest_tick if due is None else due - monotonic_seconds()
        self.update_interval = timedelta(
            seconds=min(max(delay, _SHORTEST_TICK), self._longest_tick)
        )

    @callback
    def _show_poll(self, session: DeviceSession, snapshot: DeviceSnapshot) -> None:
        """Show a device's new state at once, before the rest of the line is polled."""
        device = self._by_session[session]
        device.states = entity_states(device.profile, device.specs, snapshot)
        for update, context in list(self._listeners.values()):
            if isinstance(context, tuple) and context[0] == device.subentry.subentry_id:
                update()

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

    def _note_availability(self, device: PowerbusDevice, *, link_log: bool) -> None:
        """Log once when a device stops answering and once when it is back.

        While the link as a whole fails (and as it comes back), Home Assistant logs
        that once for the link; the device's own change is then only noted, so that
        an outage is not logged twice.
        """
        snapshot = device.snapshot
        went = not snapshot.available and not device.reported_unavailable
        came_back = snapshot.available and device.reported_unavailable
        if snapshot.polled_at is None or not (went or came_back):
            return
        device.reported_unavailable = went
        if not link_log:
            return
        if snapshot.available:
            LOGGER.info("%s is available again", device.subentry.title)
        else:
            LOGGER.info("%s is unavailable: %s", device.subentry.title, snapshot.error)

    def _note_identity(self, device: PowerbusDevice) -> None:
        """Write a device's model, serial number and firmware to the registry when they change."""
        identity = device.snapshot.identity
        if identity is None or identity == device.registered_identity:
            return
        device.registered_identity = identity
        entry = registered_device(self.hass, self.config_entry.entry_id, device.uid)
        if entry is None:
            return
        dr.async_get(self.hass).async_update_device(
            entry.id,
            model=identity.model,
            serial_number=identity.serial,
            sw_version=identity.firmware,
        )
