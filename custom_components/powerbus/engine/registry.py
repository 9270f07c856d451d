"""One bus per physical link, shared by every device (and every front-end entry) on it.

Two devices on one RS-485 adapter, or behind one Modbus TCP gateway, must share one
bus, or their requests collide on the wire. The registry hands out buses keyed by
the physical endpoint:

- a serial port by its real path (``/dev/serial/by-id/...`` and the ``/dev/ttyUSB0``
  it points to are one port);
- a network endpoint by host and port, whatever the framing.

A second user of an endpoint must ask for the same line settings (baud rate,
parity, stop bits, data bits, and framing for a network endpoint): different
settings on one wire cannot both be right, and :class:`LinkConflictError` says which
one differs. Buses are reference-counted; the last :meth:`LinkRegistry.release`
closes the link.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import os
import time

from .adapter.client import PymodbusTransport
from .bus import Bus, RetryPolicy
from .errors import ConfigError
from .link import LinkKind, LinkSettings
from .transport import TransportFactory

_LINE_SETTINGS = ("kind", "baudrate", "parity", "stopbits", "bytesize")


class LinkConflictError(ConfigError):
    """A link is already in use with other settings."""


@dataclass(frozen=True, slots=True)
class LinkKey:
    """Names a physical endpoint: a serial port's real path, or a host and port."""

    endpoint: str


@dataclass(slots=True)
class _Entry:
    bus: Bus
    users: int


def link_key(settings: LinkSettings) -> LinkKey:
    """Return the key of the physical endpoint a link reaches."""
    if settings.kind is LinkKind.RTU:
        return LinkKey(f"serial:{os.path.realpath(settings.serial_port)}")
    return LinkKey(f"net:{settings.host.lower()}:{settings.port}")


class LinkRegistry:
    """Hands out one shared, reference-counted bus per physical link."""

    def __init__(
        self,
        *,
        transport_factory: TransportFactory = PymodbusTransport,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Build buses with this transport, retry policy and clock."""
        self._transport_factory = transport_factory
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._entries: dict[LinkKey, _Entry] = {}

    def acquire(self, settings: LinkSettings) -> Bus:
        """Return the bus of the link, creating it on first use; release it when done.

        Fill in a serial link's line settings (``LinkSettings.resolve``) before
        acquiring it: unresolved and resolved settings count as different.

        Raises:
            LinkConflictError: the link is in use with other line settings.

        """
        key = link_key(settings)
        entry = self._entries.get(key)
        if entry is None:
            bus = Bus(
                settings,
                policy=self._policy,
                transport_factory=self._transport_factory,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._entries[key] = _Entry(bus=bus, users=1)
            return bus
        _check_same_line(entry.bus.settings, settings)
        entry.users += 1
        return entry.bus

    def release(self, bus: Bus) -> None:
        """Give a bus back; the last user's release closes the link."""
        for key, entry in self._entries.items():
            if entry.bus is bus:
                entry.users -= 1
                if entry.users <= 0:
                    del self._entries[key]
                    bus.close()
                return
        raise ValueError(f"{bus.settings.describe()} was not handed out by this registry")

    def users(self, settings: LinkSettings) -> int:
        """Count the holders of the link of ``settings``."""
        entry = self._entries.get(link_key(settings))
        return 0 if entry is None else entry.users

    def close_all(self) -> None:
        """Close every link and forget them (at shutdown)."""
        for entry in self._entries.values():
            entry.bus.close()
        self._entries.clear()


def _check_same_line(held: LinkSettings, asked: LinkSettings) -> None:
    """Refuse settings that differ from those the link was opened with."""
    for name in _LINE_SETTINGS:
        mine, theirs = getattr(held, name), getattr(asked, name)
        if mine != theirs:
            raise LinkConflictError(
                f"link.{name}",
                f"{held.describe()} is already in use with {name} {_shown(mine)}; "
                f"this device asks for {_shown(theirs)}",
            )


def _shown(value: object) -> str:
    """Show a setting as users write it."""
    return str(getattr(value, "value", value))
