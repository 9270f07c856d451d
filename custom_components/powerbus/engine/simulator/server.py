"""The device simulator: simulated devices by unit id, served over Modbus TCP and RTU.

Like devices on an RS-485 bus, a unit id that no device has gets no answer at
all, and a device whose unit id is one of its settings
(:class:`~.device.Addressable`) answers under its new id as soon as a write has
changed it. Faults injected through the simulator's :class:`FaultPlan` apply to
every transport it serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

from ..errors import ConfigError
from .device import Addressable, SimulatedDevice
from .faults import FaultPlan
from .modbus_server import RunningServer, serve_rtu, serve_tcp

_LARGEST_UNIT_ID = 0xFF


class Simulator:
    """Simulated devices on one bus, served over TCP and RTU, with faults on demand."""

    def __init__(
        self, devices: Mapping[int, SimulatedDevice], faults: FaultPlan | None = None
    ) -> None:
        """Put each device on the bus under its unit id; start with ``faults`` in force."""
        for unit_id in devices:
            if not 0 <= unit_id <= _LARGEST_UNIT_ID:
                raise ConfigError("devices", f"unit id {unit_id} is outside 0..{_LARGEST_UNIT_ID}")
        self._devices = dict(devices)
        served = list(devices.values())
        for unit_id, device in devices.items():
            # A device that keeps its unit id as a setting learns the one it is served on.
            if isinstance(device, Addressable) and served.count(device) == 1:
                device.unit_id = unit_id
        self._faults = FaultPlan() if faults is None else faults
        self._servers: list[RunningServer] = []

    @property
    def faults(self) -> FaultPlan:
        """The fault plan every request is judged by; change it while the simulator runs."""
        return self._faults

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP on ``host``:``port`` (0: any free port); return the port."""
        server, bound_port = await serve_tcp(self._devices, self._faults, host=host, port=port)
        self._servers.append(server)
        return bound_port

    async def start_rtu(
        self,
        port_path: str,
        *,
        baudrate: int = 9600,
        parity: str = "E",
        stopbits: int = 1,
        bytesize: int = 8,
    ) -> None:
        """Serve Modbus RTU on the serial port at ``port_path``."""
        server = await serve_rtu(
            self._devices,
            self._faults,
            port_path=port_path,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
            bytesize=bytesize,
        )
        self._servers.append(server)

    async def stop(self) -> None:
        """Stop serving everywhere; requests still waiting get no answer."""
        servers, self._servers = self._servers, []
        for server in servers:
            await server.close()

    async def __aenter__(self) -> Self:
        """Use the simulator as an async context manager that stops it on the way out."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self.stop()
