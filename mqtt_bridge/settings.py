"""The bridge's validated configuration, as typed frozen dataclasses.

``config.py`` builds these from a configuration file; everything else reads them.
Secrets (the broker password) are held here resolved, and are never part of a
``repr`` or of :meth:`BridgeSettings.redacted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powerbus import LinkSettings, PollIntervals, Profile, Vocabulary

REDACTED = "**********"


@dataclass(frozen=True, kw_only=True, slots=True)
class TlsSettings:
    """TLS towards the broker."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class MqttSettings:
    """The broker and how the bridge talks to it."""

    host: str
    port: int = 1883
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    keepalive: int = 60
    qos: int = 1
    base_topic: str = "powerbus"


@dataclass(frozen=True, kw_only=True, slots=True)
class DiscoverySettings:
    """Home Assistant discovery."""

    enabled: bool = True
    prefix: str = "homeassistant"
    per_component: bool = False
    """One discovery message per entity instead of one per device."""
    status_topic: str = "homeassistant/status"
    vocabulary: Vocabulary


@dataclass(frozen=True, kw_only=True, slots=True)
class StateSettings:
    """How device states are published."""

    refresh: float = 60.0
    point_topics: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandPolicy:
    """What may be changed on a device over MQTT."""

    allow_all: bool = True
    allowed: frozenset[str] = frozenset()
    """Entity and command keys allowed when ``allow_all`` is false."""
    dangerous: frozenset[str] = frozenset()
    """Dangerous commands and buttons that may run (nothing dangerous runs unless listed)."""

    def permits(self, key: str, *, dangerous: bool) -> bool:
        """Whether ``key`` may be changed or run; a dangerous key must be listed as such."""
        if dangerous:
            return key in self.dangerous
        return self.allow_all or key in self.allowed


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceSettings:
    """One device of a link."""

    name: str
    id: str
    """Its topic segment (a slug)."""
    profile: Profile = field(repr=False)
    unit: int
    serial: str | None = None
    intervals: PollIntervals
    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    commands: CommandPolicy = CommandPolicy()


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkEntry:
    """One Modbus link and its devices."""

    name: str
    url: str
    settings: LinkSettings
    devices: tuple[DeviceSettings, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeSettings:
    """The whole validated configuration."""

    instance: str
    log_level: str
    mqtt: MqttSettings
    discovery: DiscoverySettings
    state: StateSettings
    links: tuple[LinkEntry, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The validated file as plain data, secrets included: log :meth:`redacted` instead."""

    @property
    def devices(self) -> tuple[DeviceSettings, ...]:
        """Every device, in link order."""
        return tuple(device for link in self.links for device in link.devices)

    def redacted(self) -> dict[str, Any]:
        """Return the configuration as plain data with every secret replaced, for logs."""
        redacted: dict[str, Any] = _redact(self.raw)
        return redacted


_SECRET_KEYS = frozenset({"password"})


def _redact(value: Any) -> Any:
    """Copy ``value`` with the value of every secret key replaced."""
    if isinstance(value, dict):
        return {
            k: REDACTED if k in _SECRET_KEYS and v is not None else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value
