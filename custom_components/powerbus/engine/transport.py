"""What the bus needs from the wire: one request at a time to one unit, and open/close.

A :class:`Transport` sends exactly one Modbus request per call and translates
every failure into the engine's errors (:class:`~.errors.LinkError`,
:class:`~.errors.RequestTimeoutError`, :class:`~.errors.DeviceExceptionError`,
:class:`~.errors.DecodeError`). Retries, spacing, reconnect policy and statistics
belong to the bus (``bus.py``), which owns one transport per physical link.

Implementations:

- ``adapter.client.PymodbusTransport``: pymodbus' own client (TCP, RTU, RTU over TCP).
- Home Assistant 2026.10 and later hand out units on a connection that core's own
  Modbus integrations share; the integration wraps one in a transport of its own.
- Tests use in-memory transports that implement this protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .link import LinkSettings
from .models import Table

TrafficCallback = Callable[[bool, int], None]
"""``callback(sent, nbytes)``: a transport reports each frame it sends or receives."""


class Transport(Protocol):
    """One physical link as the bus sees it; not safe for concurrent requests."""

    @property
    def connected(self) -> bool:
        """Whether the link is open now."""

    async def open(self, timeout: float) -> None:
        """Open the link; LinkError when it cannot be opened within ``timeout`` seconds."""

    def close(self) -> None:
        """Close the link; closing a closed link does nothing."""

    async def read(
        self, table: Table, address: int, count: int, unit: int, timeout: float
    ) -> list[int] | list[bool]:
        """Read ``count`` registers (or bits) of ``table`` from ``unit``."""

    async def write_registers(
        self, address: int, values: list[int], unit: int, timeout: float
    ) -> None:
        """Write holding registers of ``unit`` (function 06 for one value, 16 for several)."""

    async def write_coils(
        self, address: int, values: list[bool], unit: int, timeout: float
    ) -> None:
        """Write coils of ``unit`` (function 05 for one value, 15 for several)."""


TransportFactory = Callable[[LinkSettings, TrafficCallback], Transport]
"""Builds the transport of a link; the callback counts the bytes of every frame."""
