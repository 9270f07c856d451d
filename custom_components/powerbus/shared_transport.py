"""The engine's transport over units of Home Assistant's shared Modbus connections.

Home Assistant 2026.10 and later hand out units on connections their modbus integration
shares between integrations, one connection per endpoint
(``homeassistant.components.modbus.async_get_unit``, a ``modbus_connection.ModbusUnit``).
:class:`SharedUnitTransport` is the engine's :class:`~.engine.Transport` over such units;
``shared_link.py`` decides where it is used and builds the bus. Nothing here imports
``modbus_connection``: what a link uses of it is found at run time (:class:`CoreModbus`),
so the module loads on releases without it.

What the shared connection changes for the engine's bus:

- **Holds.** Each unit id is held for the config entry when it is first used (the units of
  configured devices at set-up, so that a connection open with other line settings is
  reported then); core lets go of them when the entry unloads and closes the connection
  after its last holder. Each config entry has a bus of its own: the connection's lock
  keeps the requests of all its holders apart.
- **Timeouts.** The connection has one response timeout, the largest any unit asks for
  (``require_timeout``), so each unit asks for the longest wait one of its requests needs
  and may be given longer when another holder asks for more. Raising it reconnects the
  link, so the wait a configured device's profile can need is asked for at once.
- **Spacing.** A profile's minimum spacing is asked for per unit (``set_message_spacing``)
  and so is kept by every holder's requests, not only by Powerbus's.
- **Busy devices.** The connection itself asks a device that answers "busy" again, for up
  to a minute and holding the line meanwhile, before the bus sees the answer; the bus's
  own retries of a busy answer come after that.
- **Closing and reopening.** Closing only tells the bus the link is closed: the connection
  stays up for its other holders, and it drops late answers itself. A connection that
  drops makes the bus reopen (and re-read identities) as a reconnect of its own would; a
  request that cannot connect makes the next opening fail once, so the bus's reconnect
  back-off paces new attempts as it does for a link of its own.
- **Traffic.** The connection does not show its frames, so the bytes are counted from the
  frame sizes of each request and its answer (the MBAP header on TCP, unit id and CRC on
  RTU). Frames the connection discards or that arrive after a timeout are not counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .engine import (
    DecodeError,
    DeviceExceptionError,
    LinkError,
    LinkKind,
    LinkSettings,
    ModbusError,
    RequestTimeoutError,
    Table,
    TrafficCallback,
)

_T = TypeVar("_T")

# Frame bytes around a PDU: the MBAP header on Modbus TCP, unit id and CRC on RTU.
_MBAP_BYTES = 7
_RTU_FRAME_BYTES = 3
# PDU sizes: a read or single write (function, address, count or value), an exception
# answer (function, code), a multiple write's request head (function, address, count,
# byte count) and a read answer's head (function, byte count).
_FIXED_PDU = 5
_EXCEPTION_PDU = 2
_MULTIPLE_WRITE_HEAD = 6
_READ_ANSWER_HEAD = 2


class SharedUnit(Protocol):
    """What a link uses of ``modbus_connection.ModbusUnit``: one unit id on a shared connection."""

    @property
    def connected(self) -> bool:
        """Whether the connection is up."""

    async def read_holding_registers(self, address: int, count: int) -> list[int]:
        """Read holding registers (function 03)."""

    async def read_input_registers(self, address: int, count: int) -> list[int]:
        """Read input registers (function 04)."""

    async def read_coils(self, address: int, count: int) -> list[bool]:
        """Read coils (function 01)."""

    async def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        """Read discrete inputs (function 02)."""

    async def write_register(self, address: int, value: int) -> None:
        """Write one holding register (function 06)."""

    async def write_registers(self, address: int, values: list[int]) -> None:
        """Write holding registers (function 16)."""

    async def write_coil(self, address: int, value: bool) -> None:
        """Write one coil (function 05)."""

    async def write_coils(self, address: int, values: list[bool]) -> None:
        """Write coils (function 15)."""

    def set_message_spacing(self, seconds: float) -> None:
        """Keep the connection quiet for ``seconds`` around this unit's requests."""

    def require_timeout(self, seconds: float | None) -> None:
        """Ask for a response timeout of at least ``seconds`` (None withdraws the wish)."""

    def on_connection_lost(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when the connection drops; returns the unsubscribe."""


@dataclass(frozen=True, slots=True)
class CoreModbus:
    """Home Assistant's shared Modbus connections, as far as a link uses them."""

    get_unit: Callable[[HomeAssistant, ConfigEntry, Any, int], SharedUnit]
    connection_info: Callable[[HomeAssistant], Sequence[Any]]
    tcp_params: Callable[..., Any]
    serial_params: Callable[..., Any]
    failures: tuple[type[Exception], ...]
    """Whatever a unit raises: modbus_connection's ``ModbusError`` and the OS's errors."""
    exception_answer: type[Exception]
    connection_error: type[Exception]
    timeout_error: type[Exception]


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitNeeds:
    """What a configured device asks of the line: quiet around its requests, and patience."""

    spacing: float = 0.0
    timeout: float = 0.0


class SharedUnits:
    """The units one config entry holds on core's connection to its link's endpoint."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        core: CoreModbus,
        params: Any,
        needs: Mapping[int, UnitNeeds],
    ) -> None:
        """Hold nothing yet; what ``needs`` names is asked for when its unit is held."""
        self.core = core
        self._hass = hass
        self._entry = entry
        self._params = params
        self._needs = needs
        self._units: dict[int, SharedUnit] = {}
        self._timeouts: dict[int, float] = {}
        self._on_lost: list[Callable[[], None]] = []
        entry.async_on_unload(self._withdraw)

    @property
    def connected(self) -> bool:
        """Whether core's connection is up (it connects on the first request)."""
        return any(unit.connected for unit in self._units.values())

    def claim_configured(self) -> None:
        """Hold the units of the configured devices; HomeAssistantError on a conflict."""
        for unit_id in self._needs:
            self.get(unit_id)

    def get(self, unit_id: int, timeout: float = 0.0) -> SharedUnit:
        """Return the unit, held from its first use, with a response timeout of ``timeout`` or more.

        Raises:
            HomeAssistantError: the endpoint is held with other line settings.

        """
        unit = self._units.get(unit_id)
        if unit is None:
            unit = self.core.get_unit(self._hass, self._entry, self._params, unit_id)
            if not self._units:
                self._entry.async_on_unload(unit.on_connection_lost(self._connection_lost))
            self._units[unit_id] = unit
            needs = self._needs.get(unit_id, UnitNeeds())
            if needs.spacing > 0:
                unit.set_message_spacing(needs.spacing)
            timeout = max(timeout, needs.timeout)
        if timeout > self._timeouts.get(unit_id, 0.0):
            self._timeouts[unit_id] = timeout
            unit.require_timeout(timeout)
        return unit

    def on_connection_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever core's connection drops while the entry is loaded."""
        self._on_lost.append(callback)

    def _connection_lost(self) -> None:
        """Tell the transports that the connection dropped."""
        for callback in self._on_lost:
            callback()

    def _withdraw(self) -> None:
        """Withdraw what the units asked of the connection, which may outlive this entry.

        Core keeps these wishes per unit id, so a unit id another holder also uses loses
        its wishes too until that holder asks again.
        """
        for unit in self._units.values():
            unit.require_timeout(None)
            unit.set_message_spacing(0)
        self._units.clear()
        self._timeouts.clear()
        self._on_lost.clear()


class SharedUnitTransport:
    """The engine's transport for one link, over units of core's shared connection."""

    def __init__(
        self, settings: LinkSettings, on_traffic: TrafficCallback, *, units: SharedUnits
    ) -> None:
        """Talk through ``units``; ``on_traffic(sent, nbytes)`` is told each frame's size."""
        self.settings = settings
        self._on_traffic = on_traffic
        self._units = units
        self._core = units.core
        self._frame_bytes = _MBAP_BYTES if settings.kind is LinkKind.TCP else _RTU_FRAME_BYTES
        self._open = False
        self._down: str | None = None
        units.on_connection_lost(self.close)

    @property
    def connected(self) -> bool:
        """Whether the bus may send: opened, and not closed or dropped since."""
        return self._open

    async def open(self, timeout: float) -> None:
        """Let the bus send again; core connects on the next request, within the link's timeout.

        LinkError once after a request could not connect, unless another holder has
        connected since: the bus then waits its reconnect back-off.
        """
        down, self._down = self._down, None
        if down is not None and not self._units.connected:
            raise LinkError(f"{self.settings.describe()} is down: {down}")
        self._open = True

    def close(self) -> None:
        """Stop sending until the bus opens the link again; core's connection stays up."""
        self._open = False

    async def read(
        self, table: Table, address: int, count: int, unit: int, timeout: float
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits of ``table`` from ``unit``."""
        shared = self._unit(unit, timeout)
        if table.is_bit:
            read_bits = {
                Table.COIL: shared.read_coils,
                Table.DISCRETE_INPUT: shared.read_discrete_inputs,
            }[table]
            bits = await self._exchange(
                lambda: read_bits(address, count),
                _FIXED_PDU,
                _READ_ANSWER_HEAD + _bit_bytes(count),
            )
            # A bit answer is padded to whole bytes; the padding is not the device's.
            return _exactly(count, [bool(bit) for bit in bits[:count]], "bits")
        read_registers = {
            Table.HOLDING_REGISTER: shared.read_holding_registers,
            Table.INPUT_REGISTER: shared.read_input_registers,
        }[table]
        registers = await self._exchange(
            lambda: read_registers(address, count), _FIXED_PDU, _READ_ANSWER_HEAD + 2 * count
        )
        return _exactly(count, [int(word) for word in registers], "registers")

    async def write_registers(
        self, address: int, values: list[int], unit: int, timeout: float
    ) -> None:
        """Write holding registers: function 06 for one value, 16 for several."""
        shared = self._unit(unit, timeout)
        if len(values) == 1:
            await self._exchange(
                lambda: shared.write_register(address, values[0]), _FIXED_PDU, _FIXED_PDU
            )
        else:
            await self._exchange(
                lambda: shared.write_registers(address, values),
                _MULTIPLE_WRITE_HEAD + 2 * len(values),
                _FIXED_PDU,
            )

    async def write_coils(
        self, address: int, values: list[bool], unit: int, timeout: float
    ) -> None:
        """Write coils: function 05 for one value, 15 for several."""
        shared = self._unit(unit, timeout)
        if len(values) == 1:
            await self._exchange(
                lambda: shared.write_coil(address, values[0]), _FIXED_PDU, _FIXED_PDU
            )
        else:
            await self._exchange(
                lambda: shared.write_coils(address, values),
                _MULTIPLE_WRITE_HEAD + _bit_bytes(len(values)),
                _FIXED_PDU,
            )

    def _unit(self, unit_id: int, timeout: float) -> SharedUnit:
        """Return the unit for a request; LinkError when the link is closed or held otherwise."""
        if not self._open:
            raise LinkError(f"{self.settings.describe()} is not open")
        try:
            return self._units.get(unit_id, timeout)
        except HomeAssistantError as err:
            raise LinkError(f"{self.settings.describe()}: {err}") from err

    async def _exchange(
        self, request: Callable[[], Awaitable[_T]], sent_pdu: int, answer_pdu: int
    ) -> _T:
        """Send one request, count its frames and turn what the connection raises into engine errors."""
        was_connected = self._units.connected
        try:
            result = await request()
        except self._core.failures as err:
            error = self._engine_error(err, was_connected)
            if isinstance(error, LinkError):
                self._open = False
            if isinstance(error, LinkError) and not was_connected:
                self._down = str(err)  # nothing was sent, and the next opening fails
            else:
                self._count(True, sent_pdu)
            if isinstance(error, DeviceExceptionError):
                self._count(False, _EXCEPTION_PDU)
            raise error from err
        self._count(True, sent_pdu)
        self._count(False, answer_pdu)
        return result

    def _engine_error(self, err: Exception, was_connected: bool) -> ModbusError:
        """Return the engine's error for what the shared connection raised."""
        link = self.settings.describe()
        if isinstance(err, self._core.exception_answer):
            code = getattr(err, "exception_code", None)
            return DecodeError(str(err)) if code is None else DeviceExceptionError(int(code))
        if isinstance(err, self._core.timeout_error):  # before OSError: a TimeoutError is one
            if not was_connected and not self._units.connected:  # it timed out connecting
                return LinkError(f"cannot open {link}: {err}")
            return RequestTimeoutError(str(err))
        if isinstance(err, (self._core.connection_error, OSError)):
            return LinkError(f"{link}: {err}")
        return DecodeError(str(err))

    def _count(self, sent: bool, pdu_bytes: int) -> None:
        """Report one frame of ``pdu_bytes`` PDU bytes, with its framing."""
        self._on_traffic(sent, self._frame_bytes + pdu_bytes)


def _bit_bytes(count: int) -> int:
    """Bytes that carry ``count`` bits."""
    return (count + 7) // 8


def _exactly(count: int, values: list[_T], what: str) -> list[_T]:
    """Return ``values`` if there are ``count`` of them; DecodeError if not."""
    if len(values) != count:
        raise DecodeError(f"asked for {count} {what}, got {len(values)}")
    return values
