"""The pymodbus client behind one small interface, for pymodbus 3.8.3 through 3.16.

Everything version-specific about the client lives here, and every pymodbus
exception is translated into the engine's hierarchy before it leaves this module.
Retries, spacing and reconnect policy belong to the bus owner (``bus.py``): this
adapter sends exactly one request per call.

Version switches:
- 3.10 renamed the unit keyword ``slave=`` to ``device_id=``.
- Both 3.8 and 3.16 take the per-request response timeout from the transaction
  manager's own copy of the parameters (``client.ctx.comm_params.timeout_connect``);
  it is set before each request so that devices with different timeouts can share
  one link.
- Both need a running event loop to build a client, so the client is built when the
  link opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import inspect
from typing import Any, Protocol

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from ..errors import DecodeError, DeviceExceptionError, LinkError, RequestTimeoutError
from ..link import DEFAULT_SERIAL, LinkKind, LinkSettings
from ..models import Table

TrafficCallback = Callable[[bool, int], None]

# pymodbus 3.10 renamed the unit keyword argument.
_UNIT_KEYWORD = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    else "slave"
)

_SAFETY_MARGIN = 0.5


def _unit(unit: int) -> dict[str, Any]:
    """Return the unit id as the keyword argument this pymodbus version takes."""
    return {_UNIT_KEYWORD: unit}


class _Response(Protocol):
    """The parts of a pymodbus response PDU the adapter uses."""

    registers: list[int]
    bits: list[bool]

    def isError(self) -> bool:  # noqa: N802 - pymodbus' own name
        """Whether the response is an exception response."""


class PymodbusTransport:
    """One pymodbus client for one physical link; not safe for concurrent requests."""

    def __init__(self, settings: LinkSettings, on_traffic: TrafficCallback | None = None) -> None:
        """Create the client; ``on_traffic(sent, nbytes)`` sees every frame on the wire."""
        self.settings = settings
        self._on_traffic = on_traffic
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    def _make_client(
        self, settings: LinkSettings
    ) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        """Build the pymodbus client without automatic reconnects or retries."""
        common: dict[str, Any] = {
            "reconnect_delay": 0,
            "retries": 0,
            "timeout": 1.0,
            "trace_packet": self._trace_packet,
        }
        if settings.kind is LinkKind.RTU:
            line = settings.resolve(DEFAULT_SERIAL)
            return AsyncModbusSerialClient(
                settings.serial_port,
                framer=FramerType.RTU,
                baudrate=line.baudrate or DEFAULT_SERIAL.baudrate,
                parity=line.parity or DEFAULT_SERIAL.parity,
                stopbits=line.stopbits or DEFAULT_SERIAL.stopbits,
                bytesize=line.bytesize or DEFAULT_SERIAL.bytesize,
                **common,
            )
        framer = FramerType.RTU if settings.kind is LinkKind.RTU_OVER_TCP else FramerType.SOCKET
        return AsyncModbusTcpClient(settings.host, port=settings.port, framer=framer, **common)

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """Count the bytes of every frame sent or received."""
        if self._on_traffic is not None:
            self._on_traffic(sending, len(data))
        return data

    @property
    def connected(self) -> bool:
        """Whether the link is open."""
        return self._client is not None and bool(self._client.connected)

    async def open(self, timeout: float) -> None:
        """Open the link; LinkError when it cannot be opened within ``timeout``."""
        self.close()
        client = self._make_client(self.settings)
        self._client = client
        client.comm_params.timeout_connect = timeout
        try:
            ok = await asyncio.wait_for(client.connect(), timeout + _SAFETY_MARGIN)
        except (TimeoutError, OSError, ModbusException) as err:
            self.close()
            raise LinkError(f"cannot open {self.settings.describe()}: {err}") from err
        if not ok:
            self.close()
            raise LinkError(f"cannot open {self.settings.describe()}")

    def close(self) -> None:
        """Close the link (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(
        self, table: Table, address: int, count: int, unit: int, timeout: float
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits from ``table``."""
        client = self._open_client()
        method = {
            Table.COIL: client.read_coils,
            Table.DISCRETE_INPUT: client.read_discrete_inputs,
            Table.HOLDING_REGISTER: client.read_holding_registers,
            Table.INPUT_REGISTER: client.read_input_registers,
        }[table]
        response = await self._call(
            client, lambda: method(address, count=count, **_unit(unit)), timeout
        )
        if table.is_bit:
            bits = [bool(b) for b in response.bits[:count]]
            if len(bits) != count:
                raise DecodeError(f"asked for {count} bits, got {len(bits)}")
            return bits
        registers = list(response.registers)
        if len(registers) != count:
            raise DecodeError(f"asked for {count} registers, got {len(registers)}")
        return registers

    async def write_registers(
        self, address: int, values: list[int], unit: int, timeout: float
    ) -> None:
        """Write holding registers: function 06 for one value, 16 for several."""
        client = self._open_client()
        if len(values) == 1:
            await self._call(
                client,
                lambda: client.write_register(address, values[0], **_unit(unit)),
                timeout,
            )
        else:
            await self._call(
                client,
                lambda: client.write_registers(address, values, **_unit(unit)),
                timeout,
            )

    async def write_coils(
        self, address: int, values: list[bool], unit: int, timeout: float
    ) -> None:
        """Write coils: function 05 for one value, 15 for several."""
        client = self._open_client()
        if len(values) == 1:
            await self._call(
                client,
                lambda: client.write_coil(address, values[0], **_unit(unit)),
                timeout,
            )
        else:
            await self._call(
                client,
                lambda: client.write_coils(address, values, **_unit(unit)),
                timeout,
            )

    def _open_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        """Return the client of an open link; LinkError when the link is not open."""
        if self._client is None or not self._client.connected:
            raise LinkError(f"{self.settings.describe()} is not open")
        return self._client

    async def _call(
        self,
        client: AsyncModbusTcpClient | AsyncModbusSerialClient,
        request: Callable[[], Awaitable[Any]],
        timeout: float,
    ) -> _Response:
        """Send one request and translate whatever pymodbus does into engine errors."""
        client.ctx.comm_params.timeout_connect = timeout
        try:
            response: _Response = await asyncio.wait_for(request(), timeout + _SAFETY_MARGIN)
        except TimeoutError as err:
            raise RequestTimeoutError(f"no answer within {timeout:.2f} s") from err
        except ConnectionException as err:
            raise LinkError(f"{self.settings.describe()}: {err}") from err
        except ModbusIOException as err:
            if not client.connected:
                raise LinkError(f"{self.settings.describe()} closed: {err}") from err
            raise RequestTimeoutError(f"no answer within {timeout:.2f} s") from err
        except ModbusException as err:
            raise DecodeError(str(err)) from err
        except OSError as err:
            raise LinkError(f"{self.settings.describe()}: {err}") from err
        if response.isError():
            raise DeviceExceptionError(int(getattr(response, "exception_code", 0)))
        return response
