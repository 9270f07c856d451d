"""The pymodbus client behind one small interface, for pymodbus 3.8.3 through 3.16.

Everything version-specific about the client lives here, and every pymodbus
exception is translated into the engine's hierarchy before it leaves this module.
Retries, spacing and reconnect policy belong to the bus owner (``bus.py``): this
adapter sends exactly one request per call.

pymodbus does not check that an answer belongs to its request (3.8 checks nothing,
3.16 takes transaction id 0 as a wildcard and never looks at the function code), and
an answer it cannot decode raises inside asyncio's ``data_received``. So the adapter
reads the wire itself (:mod:`.exchange`, :mod:`.frames`): every byte received goes
through the adapter's check before pymodbus sees it, pymodbus is handed only the
frame that answers the request, and a closed link or a broken stream ends the
request at once instead of after its timeout.

Version switches and the parts of pymodbus the adapter relies on:
- 3.10 renamed the unit keyword ``slave=`` to ``device_id=``.
- Both 3.8 and 3.16 take the per-request response timeout from the transaction
  manager's own copy of the parameters (``client.ctx.comm_params.timeout_connect``);
  it is set before each request so that devices with different timeouts can share
  one link.
- Both deliver received bytes to the transaction manager's ``data_received``
  (``client.ctx``, the asyncio protocol of TCP and serial links alike), which the
  adapter replaces with its own check; both send the bytes ``trace_packet`` returns,
  and call ``trace_connect(False)`` when the other end closes the link.
- Both need a running event loop to build a client, so the client is built when the
  link opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
import functools
import gc
import inspect
import logging
import sys
from typing import Any, Protocol

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from ..errors import DecodeError, DeviceExceptionError, LinkError, ModbusError, RequestTimeoutError
from ..link import DEFAULT_SERIAL, LinkKind, LinkSettings
from ..models import Table
from .exchange import Exchange, TransactionIds
from .frames import Framing

_LOGGER = logging.getLogger(__name__)

TrafficCallback = Callable[[bool, int], None]
Client = AsyncModbusTcpClient | AsyncModbusSerialClient

# pymodbus 3.10 renamed the unit keyword argument.
_UNIT_KEYWORD = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    else "slave"
)

_SAFETY_MARGIN = 0.5
_RTU_SETTLE = 0.05
"""Seconds after an RTU link opens during which whatever arrives is dropped: a late
answer that a gateway kept, or that a device sent while the port was reopened (RTU
frames carry no transaction id that would tell it from the next answer)."""

_PROBE_TIMEOUT = 1.0
_NEVER = 1 << 30
# What opening a serial port raises when the port refuses its line settings.
if sys.platform == "win32":
    _REFUSED_SETTINGS: tuple[type[Exception], ...] = (ValueError,)
else:
    import termios

    _REFUSED_SETTINGS = (ValueError, termios.error)


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
        self._client: Client | None = None
        self._framing = Framing.MBAP if settings.kind is LinkKind.TCP else Framing.RTU
        self._transactions = TransactionIds()
        self._exchange: Exchange | None = None
        self._troubled = False

    def _make_client(self, settings: LinkSettings) -> Client:
        """Build the pymodbus client without automatic reconnects, retries or disconnects."""
        client = self._new_client(settings)
        # The bus decides when a link that stops answering is reopened, not pymodbus.
        client.set_max_no_responses(_NEVER)
        return client

    def _new_client(self, settings: LinkSettings) -> Client:
        """Build the pymodbus client of ``settings``, its hooks leading to this transport."""
        common: dict[str, Any] = {
            "reconnect_delay": 0,
            "retries": 0,
            "timeout": 1.0,
            "trace_packet": self._trace_packet,
            "trace_connect": self._trace_connect,
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
        """Stamp a request going out with the link's transaction id and count its bytes."""
        if sending:
            if self._exchange is not None:
                data = self._exchange.sent(data)
            if self._on_traffic is not None:
                self._on_traffic(True, len(data))
        return data

    def _trace_connect(self, connected: bool) -> None:
        """End the request under way at once when the other end closes the link."""
        if not connected and self._exchange is not None:
            self._exchange.end(LinkError(f"{self.settings.describe()} was closed by the other end"))

    def _receive(self, deliver: Callable[[bytes], None], data: bytes) -> None:
        """Check bytes off the wire; hand pymodbus (``deliver``) only the request's answer."""
        if self._on_traffic is not None:
            self._on_traffic(False, len(data))
        exchange = self._exchange
        if exchange is None:
            _LOGGER.debug(
                "%s: dropped %d bytes that came with no request waiting",
                self.settings.describe(),
                len(data),
            )
            return
        ended_before = exchange.ended.done()
        answer = exchange.received(data)
        if exchange.ended.done() and not ended_before:
            self._complain(exchange.ended.result())
        if answer is None:
            return
        try:
            deliver(answer)
        except Exception as err:  # noqa: BLE001 - nothing pymodbus raises may reach asyncio
            error = DecodeError(f"{self.settings.describe()}: pymodbus cannot read {answer.hex()}")
            exchange.end(error, answered=False)
            self._complain(error, err)

    def _complain(self, error: ModbusError, cause: Exception | None = None) -> None:
        """Log a broken answer in one line: a warning the first time, then at debug level."""
        level = logging.DEBUG if self._troubled else logging.WARNING
        self._troubled = True
        _LOGGER.log(level, "%s%s", error, f" ({cause!r})" if cause is not None else "")

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
        # pymodbus' receiving end, replaced by the adapter's check in front of it.
        client.ctx.data_received = functools.partial(  # type: ignore[method-assign]
            self._receive, client.ctx.data_received
        )
        try:
            refusal = await self._connect(client, timeout)
        except LinkError:
            self.close()
            raise
        if refusal is not None:
            self.close()
            raise LinkError(await self._refused_setting(refusal))
        if self._framing is Framing.RTU:
            await asyncio.sleep(_RTU_SETTLE)

    async def _connect(self, client: Client, timeout: float) -> str | None:
        """Connect ``client``; return the OS's words when it refuses the serial settings."""
        try:
            ok = await asyncio.wait_for(client.connect(), timeout + _SAFETY_MARGIN)
        except _REFUSED_SETTINGS as err:
            refusal = str(err)
        except (TimeoutError, OSError, ModbusException) as err:
            raise LinkError(f"cannot open {self.settings.describe()}: {err}") from err
        else:
            if not ok:
                raise LinkError(f"cannot open {self.settings.describe()}")
            return None
        # pymodbus leaves the port it could not set up open and locked, held only by the
        # exception's traceback (a reference cycle): collect it now to close the port.
        gc.collect()
        return refusal

    async def _refused_setting(self, refusal: str) -> str:
        """Name the line setting a serial port refuses, by trying each one plainly."""
        line = self.settings.resolve(DEFAULT_SERIAL)
        plain = (
            (f"parity {line.parity}", replace(line, parity="N")),
            (f"{line.stopbits} stop bits", replace(line, stopbits=1)),
            (f"{line.bytesize} data bits", replace(line, bytesize=8)),
            (f"{line.baudrate} Bd", replace(line, baudrate=DEFAULT_SERIAL.baudrate)),
        )
        for setting, without in plain:
            if without != line and await self._opens(without):
                return f"cannot open {self.settings.describe()}: the port refuses {setting} ({refusal})"
        return f"cannot open {self.settings.describe()}: the port refuses its settings ({refusal})"

    async def _opens(self, settings: LinkSettings) -> bool:
        """Whether the serial port opens with ``settings``."""
        client = self._make_client(settings)
        try:
            return await self._connect(client, _PROBE_TIMEOUT) is None
        except LinkError:
            return False
        finally:
            client.close()

    def close(self) -> None:
        """Close the link (idempotent); a request under way ends at once."""
        if self._exchange is not None:
            self._exchange.end(LinkError(f"{self.settings.describe()} was closed"))
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

    def _open_client(self) -> Client:
        """Return the client of an open link; LinkError when the link is not open."""
        if self._client is None or not self._client.connected:
            raise LinkError(f"{self.settings.describe()} is not open")
        return self._client

    async def _call(
        self, client: Client, request: Callable[[], Awaitable[Any]], timeout: float
    ) -> _Response:
        """Send one request; return its answer or raise the engine error that ended it."""
        client.ctx.comm_params.timeout_connect = timeout
        exchange = Exchange(self._framing, self.settings.describe(), self._transactions)
        self._exchange = exchange
        pending = asyncio.ensure_future(request())
        try:
            await asyncio.wait(
                (pending, exchange.ended),
                timeout=timeout + _SAFETY_MARGIN,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if exchange.answered and not pending.done():
                await asyncio.wait((pending,), timeout=_SAFETY_MARGIN)
        finally:
            self._exchange = None
            if not pending.done():
                pending.cancel()
                await asyncio.wait((pending,))
        if pending.done() and not pending.cancelled() and not exchange.ended.done():
            response = self._answer(client, pending, timeout, exchange)
            if self._troubled:
                _LOGGER.info("%s answers properly again", self.settings.describe())
                self._troubled = False
            return response
        if exchange.ended.done():
            error = exchange.ended.result()
            if isinstance(error, LinkError):
                self.close()
            raise error
        raise RequestTimeoutError(self._no_answer(timeout, exchange))

    def _answer(
        self, client: Client, pending: asyncio.Future[Any], timeout: float, exchange: Exchange
    ) -> _Response:
        """Translate how pymodbus ended the request into its answer or an engine error."""
        try:
            response: _Response = pending.result()
        except ConnectionException as err:
            raise LinkError(f"{self.settings.describe()}: {err}") from err
        except ModbusIOException as err:
            if not client.connected:
                raise LinkError(f"{self.settings.describe()} closed: {err}") from err
            raise RequestTimeoutError(self._no_answer(timeout, exchange)) from err
        except ModbusException as err:
            raise DecodeError(str(err)) from err
        except OSError as err:
            raise LinkError(f"{self.settings.describe()}: {err}") from err
        if response.isError():
            raise DeviceExceptionError(int(getattr(response, "exception_code", 0)))
        return response

    @staticmethod
    def _no_answer(timeout: float, exchange: Exchange) -> str:
        """Say that no answer came, and what was passed over instead."""
        ignored = f"; passed over {exchange.ignored}" if exchange.ignored else ""
        return f"no answer within {timeout:.2f} s{ignored}"
