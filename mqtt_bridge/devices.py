"""The bridge's devices: each configured device with its engine session and its entities.

Which entities a device has comes from the engine's catalogue; the configuration
only narrows or widens what is read and published:

- a point's entity is published when its point is read: the profile's default
  points, plus ``enable``, minus ``disable``;
- derived entities (a UPS's status) and bus statistics are published unless
  disabled;
- a button is published only when its command may run (``commands``), since it
  would only ever be refused otherwise;
- an entity is created enabled in Home Assistant when the catalogue says so or the
  configuration enables it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import math

from powerbus import Bus, DeviceSession, EntitySpec, LinkRegistry, Source, Vocabulary, catalogue

from .discovery import Announcement
from .settings import DeviceSettings, LinkEntry

EXPIRY_FACTOR = 3
"""``expire_after`` is this many times the longest wait between two state messages."""


@dataclass(eq=False, kw_only=True)
class BridgeDevice:
    """One configured device, its session and the entities the bridge publishes for it."""

    settings: DeviceSettings
    link: LinkEntry
    session: DeviceSession
    entities: tuple[EntitySpec, ...]
    """What discovery announces and the state message carries."""
    enabled: frozenset[str]
    """The entities Home Assistant creates enabled."""

    @property
    def id(self) -> str:
        """The device's topic segment."""
        return self.settings.id

    def describe(self) -> str:
        """Name the device for a log line: its name, profile, unit and link."""
        return (
            f"{self.settings.name} ({self.settings.profile.key}, unit {self.settings.unit} "
            f"on {self.link.url})"
        )

    def entity(self, key: str) -> EntitySpec | None:
        """Return the published entity with ``key``, if there is one."""
        return next((spec for spec in self.entities if spec.key == key), None)

    def expire_after(self, refresh: float) -> int:
        """Seconds after which Home Assistant treats a value as gone when no state arrives.

        State is published after a poll when something changed, and at least every
        ``refresh`` seconds; polls come at the fastest group's interval. The longest
        wait between two messages is therefore the larger of the two.
        """
        fastest = min(
            (timing.asked for timing in self.session.timings()),
            default=self.settings.intervals.fast,
        )
        return math.ceil(EXPIRY_FACTOR * max(refresh, fastest))

    def announcement(self, *, qos: int, refresh: float) -> Announcement | None:
        """Return what discovery says about the device; None until its uid is known."""
        uid = self.session.uid
        if uid is None:
            return None
        identity = self.session.identity
        profile = self.settings.profile
        return Announcement(
            device=self.id,
            name=self.settings.name,
            uid=uid,
            manufacturer=profile.manufacturer if identity is None else identity.manufacturer,
            model=profile.name if identity is None else identity.model,
            profile=profile.key,
            serial=None if identity is None else identity.serial,
            firmware=None if identity is None else identity.firmware,
            entities=self.entities,
            enabled=self.enabled,
            expire_after=self.expire_after(refresh),
            qos=qos,
        )


def build_devices(
    links: Iterable[LinkEntry], registry: LinkRegistry, vocabulary: Vocabulary
) -> list[tuple[LinkEntry, list[BridgeDevice]]]:
    """Create a session for every configured device, sharing one bus per link."""
    built: list[tuple[LinkEntry, list[BridgeDevice]]] = []
    for link in links:
        bus: Bus | None = None
        devices = []
        for settings in link.devices:
            if bus is None:
                bus = registry.acquire(link.settings.resolve(settings.profile.transport))
            devices.append(build_device(settings, link, bus, vocabulary))
        built.append((link, devices))
    return built


def build_device(
    settings: DeviceSettings, link: LinkEntry, bus: Bus, vocabulary: Vocabulary
) -> BridgeDevice:
    """Create one device's session and choose the entities it publishes."""
    profile = settings.profile
    specs = catalogue(profile, vocabulary)
    defaults = {point.key for point in profile.points if point.enabled_by_default}
    wanted_points = (
        defaults | _switch_reads(specs, settings) | _point_keys(specs, settings.enable)
    ) - _point_keys(specs, settings.disable)
    session = DeviceSession(
        bus,
        profile,
        settings.unit,
        intervals=settings.intervals,
        enabled=sorted(wanted_points),
        expected_serial=settings.serial,
        link=link.settings,
    )
    entities = tuple(spec for spec in specs if _published(spec, settings, wanted_points))
    enabled = frozenset(
        spec.key for spec in entities if spec.enabled_by_default or spec.key in settings.enable
    )
    return BridgeDevice(
        settings=settings, link=link, session=session, entities=entities, enabled=enabled
    )


def _point_keys(specs: Iterable[EntitySpec], keys: frozenset[str]) -> set[str]:
    """Return the points behind the named entities."""
    return {spec.point for spec in specs if spec.key in keys and spec.point is not None}


def _switch_reads(specs: Iterable[EntitySpec], settings: DeviceSettings) -> set[str]:
    """Return the state points of the switches made of commands this device shows."""
    return {
        point
        for spec in specs
        if spec.source is Source.COMMAND
        and (spec.enabled_by_default or spec.key in settings.enable)
        and spec.key not in settings.disable
        for point in spec.reads
    }


def _published(spec: EntitySpec, settings: DeviceSettings, points: set[str]) -> bool:
    """Whether the bridge publishes ``spec`` for this device."""
    if spec.key in settings.disable:
        return False
    if spec.source is Source.POINT:
        return spec.point in points
    if spec.source is Source.COMMAND:
        return settings.commands.permits(spec.key, dangerous=spec.dangerous)
    return True
