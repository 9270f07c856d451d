"""The pymodbus server behind the device simulator, for pymodbus 3.8.3 through 3.16.

pymodbus listens, frames, decodes each request, runs it through its own request
PDU (range checks, response building) and encodes the answer. What the answer
holds comes from the simulated device behind the unit id, and whether and how it
goes out is decided by the fault plan.

Hooks into pymodbus, the same on every supported version:
- ``ModbusTcpServer`` and ``ModbusSerialServer`` are subclassed only to hand each
  connection (or the serial line) our request handler (``callback_new_connection``).
- The handler, a ``ServerRequestHandler``, overrides ``handle_later``: pymodbus
  calls it once for every request frame it has decoded. From there the request
  runs in a task that the server cancels when it stops.
- The request PDU runs against the device through pymodbus' own datastore method,
  given a small context object that forwards reads and writes to the device.
- A damaged answer is built with the handler's framer and altered before sending.

Version switches, all in this module:
- 3.9 added ``trace_packet``, ``trace_pdu`` and ``trace_connect`` to the request
  handler's constructor.
- 3.9 stopped asking the datastore to ``validate`` a range before each access.
- 3.12 replaced ``ModbusPDU.update_datastore(device_context)`` by
  ``datastore_update(server_context, device_id)``.
- 3.12 builds a server from a ``SimDevice`` and no longer from a missing context;
  3.13 refuses an empty ``ModbusServerContext``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
import importlib
import logging
from typing import Any, cast

import pymodbus
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer
from pymodbus.server.requesthandler import ServerRequestHandler

from ..errors import DeviceExceptionError, LinkError
from ..models import Table
from .device import Addressable, SimulatedDevice
from .faults import FaultPlan, Reply, Request

_LOGGER = logging.getLogger(__name__)


def _minor_version(version: str) -> tuple[int, int]:
    """Return the (major, minor) part of a version string such as ``3.8.3``."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


_PYMODBUS_VERSION = _minor_version(pymodbus.__version__)
# pymodbus 3.9 added the tracer arguments to ServerRequestHandler.__init__.
_HANDLER_TAKES_TRACERS = _PYMODBUS_VERSION >= (3, 9)
# pymodbus 3.12 renamed ModbusPDU.update_datastore(device_context) to
# datastore_update(server_context, device_id).
_PDU_TAKES_SERVER_CONTEXT = _PYMODBUS_VERSION >= (3, 12)
# pymodbus 3.12 builds a server from a SimDevice; before, it made its own empty context.
_SERVER_NEEDS_SIM_DEVICE = _PYMODBUS_VERSION >= (3, 12)

_TABLE_BY_FUNCTION = {
    1: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING_REGISTER,
    4: Table.INPUT_REGISTER,
    5: Table.COIL,
    6: Table.HOLDING_REGISTER,
    15: Table.COIL,
    16: Table.HOLDING_REGISTER,
    22: Table.HOLDING_REGISTER,
    23: Table.HOLDING_REGISTER,
}
# The normal answer to these single writes repeats the written value; pymodbus reads
# it back from the datastore, the simulator repeats what was written.
_ECHOING_WRITES = frozenset({5, 6})
_READ_WRITE_MULTIPLE = 23
_SERVER_DEVICE_FAILURE = 0x04
_MBAP_LENGTH_END = 6


@dataclass(slots=True)
class _Bus:
    """What the request handlers of one server share: the simulator's devices by unit id among them."""

    devices: MutableMapping[int, SimulatedDevice]
    faults: FaultPlan
    damage: Callable[[bytes], bytes]
    drops_connections: bool
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class RunningServer:
    """A pymodbus server answering for the simulated bus until it is closed."""

    def __init__(self, server: ModbusBaseServer, bus: _Bus) -> None:
        """Keep the server and the state its handlers share."""
        self._server = server
        self._bus = bus

    async def close(self) -> None:
        """Stop listening, close every connection and abandon requests still waiting."""
        await self._server.shutdown()  # type: ignore[no-untyped-call]
        waiting = list(self._bus.tasks)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def serve_tcp(
    devices: MutableMapping[int, SimulatedDevice], faults: FaultPlan, *, host: str, port: int
) -> tuple[RunningServer, int]:
    """Serve ``devices`` over Modbus TCP; return the server and the port (port 0 picks one)."""
    bus = _Bus(devices=devices, faults=faults, damage=_shorten_pdu, drops_connections=True)
    server = _TcpServer(bus, host, port)
    await _listen(server, f"{host}:{port}")
    listener = cast("asyncio.Server", server.transport)
    bound_port: int = listener.sockets[0].getsockname()[1]
    return RunningServer(server, bus), bound_port


async def serve_rtu(
    devices: MutableMapping[int, SimulatedDevice],
    faults: FaultPlan,
    *,
    port_path: str,
    baudrate: int,
    parity: str,
    stopbits: int,
    bytesize: int,
) -> RunningServer:
    """Serve ``devices`` over Modbus RTU on the serial port at ``port_path``."""
    bus = _Bus(devices=devices, faults=faults, damage=_break_crc, drops_connections=False)
    server = _SerialServer(
        bus, port=port_path, baudrate=baudrate, parity=parity, stopbits=stopbits, bytesize=bytesize
    )
    await _listen(server, port_path)
    return RunningServer(server, bus)


async def _listen(server: ModbusBaseServer, where: str) -> None:
    """Open the listener or the serial port; LinkError if that fails."""
    try:
        listening = await server.listen()
    except (OSError, ValueError) as error:
        raise LinkError(f"cannot serve on {where}: {error}") from error
    if not listening:
        raise LinkError(f"cannot serve on {where}")


def _placeholder_context() -> Any:
    """Return the datastore pymodbus insists on; requests never reach it, the handler runs them."""
    if _SERVER_NEEDS_SIM_DEVICE:
        simulator = importlib.import_module("pymodbus.simulator")
        return simulator.SimDevice(
            id=0, simdata=simulator.SimData(address=0, datatype=simulator.DataType.REGISTERS)
        )
    return None


class _TcpServer(ModbusTcpServer):
    """A pymodbus TCP server whose connections answer from the simulated bus."""

    def __init__(self, bus: _Bus, host: str, port: int) -> None:
        """Listen on ``host``:``port``."""
        super().__init__(_placeholder_context(), address=(host, port))
        self._bus = bus

    def callback_new_connection(self) -> _RequestHandler:
        """Handle a new connection with the bus's handler."""
        return _RequestHandler(self, self._bus)


class _SerialServer(ModbusSerialServer):
    """A pymodbus RTU server on one serial port that answers from the simulated bus."""

    def __init__(self, bus: _Bus, **line: Any) -> None:
        """Open the serial port with the ``line`` settings when listening."""
        super().__init__(_placeholder_context(), **line)
        self._bus = bus

    def callback_new_connection(self) -> _RequestHandler:
        """Handle the serial line with the bus's handler."""
        return _RequestHandler(self, self._bus)


class _RequestHandler(ServerRequestHandler):
    """Answers the requests of one connection (or of the serial line) from the bus."""

    def __init__(self, server: ModbusBaseServer, bus: _Bus) -> None:
        """Set up pymodbus' handler for ``server``."""
        handler_init: Callable[..., None] = super().__init__
        if _HANDLER_TAKES_TRACERS:
            handler_init(server, server.trace_packet, server.trace_pdu, server.trace_connect)
        else:
            handler_init(server)
        self._bus = bus

    def handle_later(self) -> None:
        """Answer the request pymodbus has just decoded, in a task the server can cancel."""
        request, address = self.last_pdu, self.last_addr
        if request is None:
            return
        task = asyncio.create_task(self._answer(request, address))
        self._bus.tasks.add(task)
        task.add_done_callback(self._bus.tasks.discard)

    async def _answer(self, request: ModbusPDU, address: tuple[Any, ...] | None) -> None:
        """Answer as the fault plan says; stay silent for unit ids nobody has."""
        device = self._bus.devices.get(request.dev_id)
        if device is None:
            return
        verdict = self._bus.faults.judge(_describe(request))
        if verdict.delay:
            await asyncio.sleep(verdict.delay)
        match verdict.reply:
            case Reply.SILENT:
                return
            case Reply.DROP:
                if self._bus.drops_connections:
                    self.close()
                return
            case Reply.EXCEPTION:
                response: ModbusPDU = ExceptionResponse(
                    request.function_code, verdict.exception_code
                )
            case _:
                response = await _execute(request, device)
                _follow_new_unit_id(self._bus.devices, request.dev_id, device)
        response.transaction_id = request.transaction_id
        response.dev_id = request.dev_id
        if verdict.reply is Reply.CORRUPT:
            self.send(self._bus.damage(self.framer.buildFrame(response)), addr=address)
        else:
            self.pdu_send(response, addr=address)


def _follow_new_unit_id(
    devices: MutableMapping[int, SimulatedDevice], unit_id: int, device: SimulatedDevice
) -> None:
    """Serve a device whose own unit id setting a request has just changed under its new id.

    The answer to that request still goes out under the old id. A bus cannot hold
    two devices on one id: when the new one is taken, the device keeps its old id.
    """
    if not isinstance(device, Addressable) or device.unit_id in (None, unit_id):
        return
    if devices.get(unit_id) is not device:
        return
    if device.unit_id in devices:
        _LOGGER.warning(
            "Simulated unit %s cannot move to unit %s: another device answers there",
            unit_id,
            device.unit_id,
        )
        device.unit_id = unit_id
        return
    del devices[unit_id]
    devices[device.unit_id] = device


def _describe(request: Any) -> Request:
    """Describe a request PDU the way the fault plan looks at it."""
    function_code: int = request.function_code
    table = _TABLE_BY_FUNCTION.get(function_code)
    if table is None:
        return Request(
            unit_id=request.dev_id, function_code=function_code, table=None, address=0, count=0
        )
    if function_code == _READ_WRITE_MULTIPLE:
        address, count = request.read_address, request.read_count
    else:
        address = request.address
        count = request.count or len(request.bits) or len(request.registers) or 1
    return Request(
        unit_id=request.dev_id,
        function_code=function_code,
        table=table,
        address=address,
        count=count,
    )


async def _execute(request: Any, device: SimulatedDevice) -> ModbusPDU:
    """Run the request PDU against ``device``; a refusal becomes its exception response."""
    context = _DeviceContext(device)
    try:
        if _PDU_TAKES_SERVER_CONTEXT:
            response: ModbusPDU = await request.datastore_update(
                _ServerContext(context), request.dev_id
            )
        else:
            response = await request.update_datastore(context)
    except DeviceExceptionError as refusal:
        return ExceptionResponse(request.function_code, refusal.code)
    except Exception:
        _LOGGER.exception(
            "Simulated unit %s failed on function %s", request.dev_id, request.function_code
        )
        return ExceptionResponse(request.function_code, _SERVER_DEVICE_FAILURE)
    return response


class _DeviceContext:
    """One simulated device in the shape of a pymodbus device datastore, for one request."""

    def __init__(self, device: SimulatedDevice) -> None:
        """Forward to ``device``."""
        self._device = device
        self._written: list[int] | list[bool] | None = None

    def validate(self, func_code: int, address: int, count: int = 1) -> bool:
        """Leave range checks to the device (pymodbus before 3.9 asks before each access)."""
        return True

    async def async_getValues(
        self, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool]:
        """Read from the device, or repeat a single write's value for its answer."""
        if func_code in _ECHOING_WRITES and self._written is not None:
            return self._written
        return self._device.read(_TABLE_BY_FUNCTION[func_code], address, count)

    async def async_setValues(
        self, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> None:
        """Write to the device: bits to coils, registers to holding registers."""
        table = _TABLE_BY_FUNCTION[func_code]
        written: list[int] | list[bool] = (
            [bool(value) for value in values] if table.is_bit else [int(value) for value in values]
        )
        self._device.write(table, address, written)
        self._written = written


class _ServerContext:
    """The same device in the shape of the server-wide context pymodbus 3.12+ hands a request."""

    def __init__(self, device: _DeviceContext) -> None:
        """Forward to ``device`` whatever unit id pymodbus names (it is the request's own)."""
        self._device = device

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool]:
        """Read from the device."""
        return await self._device.async_getValues(func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> None:
        """Write to the device."""
        await self._device.async_setValues(func_code, address, values)


def _break_crc(frame: bytes) -> bytes:
    """Invert the last CRC byte of an RTU frame, so that no master accepts it."""
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


def _shorten_pdu(frame: bytes) -> bytes:
    """Cut the last byte off the PDU of a Modbus TCP frame.

    The MBAP length field is rewritten to match the shorter frame, so the master
    stays in step with the byte stream but finds a PDU that is shorter than its
    function code and byte count promise.
    """
    shortened = frame[:-1]
    length = len(shortened) - _MBAP_LENGTH_END
    return shortened[:4] + length.to_bytes(2, "big") + shortened[_MBAP_LENGTH_END:]
