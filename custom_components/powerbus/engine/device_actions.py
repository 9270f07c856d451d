"""What a user may do to a device: run a command, write a point, move energy counters, read raw.

Everything is validated completely before the first byte is sent: the command and
its parameters, a point's writability, range, choices and danger, the scale of a
scaled point. Then the action takes the line ahead of any poll that waits (the
bus's command turn), and the device's next poll reads everything again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
import math
from typing import TYPE_CHECKING, Any

from .bus import Bus
from .codecs import decode_point, encode_point, exponent_from_register
from .command_params import validate_params
from .commands import CommandResult, plan_command, run_command
from .counter_guard import CounterGuard
from .energy_transfer import EnergyTransferResult, transfer_energy
from .errors import CommandFailedError, ConfirmationRequiredError, DecodeError, WriteValidationError
from .models import Command, Point, PointState, Profile, Reading, Table, Value
from .poller import ALL_GROUPS, Poller, PollResult
from .turns import Priority

if TYPE_CHECKING:
    from .session import DeviceSession


class DeviceActions:
    """The actions of a device session (mixed into :class:`~.session.DeviceSession`)."""

    bus: Bus
    profile: Profile
    unit: int
    _poller: Poller
    _readings: dict[str, Reading]
    _refresh_requested: bool
    _sleep: Callable[[float], Awaitable[None]]
    _merge: Callable[[PollResult], None]
    """Folds a poll into the device's snapshot (the session's own)."""
    _clock: Callable[[], float]
    _counters: CounterGuard
    _mismatch: bool
    _error: str | None

    def _refuse_a_foreign_device(self) -> None:
        """Send nothing to a device that is not the one configured at this unit id."""
        if self._mismatch:
            raise WriteValidationError(f"nothing was sent: {self._error}")

    async def run_command(
        self, key: str, params: Mapping[str, Any] | None = None, *, confirm: bool = False
    ) -> CommandResult:
        """Validate command ``key`` completely, then run it ahead of any waiting poll."""
        self.check_command(key, params, confirm=confirm)
        async with self.bus.turn(Priority.COMMAND):
            result = await run_command(
                self.bus,
                self.profile,
                self.unit,
                key,
                params,
                confirm=confirm,
                sleep=self._sleep,
                clock=self._clock,
            )
        self._counters.allow_reset()
        self._refresh_requested = True
        return result

    def check_command(
        self, key: str, params: Mapping[str, Any] | None = None, *, confirm: bool = False
    ) -> Command:
        """Validate command ``key`` with ``params`` as :meth:`run_command` would; send nothing.

        Raises:
            WriteValidationError: no such command, or a parameter is refused.
            ConfirmationRequiredError: the command is dangerous and ``confirm`` is false.

        """
        self._refuse_a_foreign_device()
        try:
            command = self.profile.command(key)
        except KeyError:
            known = ", ".join(c.key for c in self.profile.commands) or "none"
            raise WriteValidationError(
                f"{self.profile.key} has no command '{key}' (commands: {known})"
            ) from None
        plan_command(self.profile, command, validate_params(command, params or {}))
        if command.dangerous and not confirm:
            raise ConfirmationRequiredError(
                f"{key} is dangerous and needs an explicit confirmation"
            )
        return command

    async def write_point(self, key: str, value: Value, *, confirm: bool = False) -> Reading:
        """Validate, encode and write a writable point, then read it back and return it."""
        point = self._writable_point(key, confirm=confirm)
        exponent = self._scale_exponent(point)
        registers = encode_point(point, value, exponent)
        expected = decode_point(point, registers, exponent)
        async with self.bus.turn(Priority.COMMAND):
            if point.table is Table.COIL:
                await self.bus.write_coils(
                    self.unit, point.address, [bool(r) for r in registers], self.profile.limits
                )
            else:
                await self.bus.write_registers(
                    self.unit, point.address, registers, self.profile.limits
                )
            result = await self._poller.poll(ALL_GROUPS, [key])
        self._counters.allow_reset()
        self._merge(result)
        reading = self._readings.get(key)  # absent when the device answered nothing
        if (
            reading is None
            or reading.state is not PointState.VALID
            or not _same(reading.value, expected)
        ):
            shown = None if reading is None else reading.value
            raise CommandFailedError(
                key, "readback_mismatch", f"{key} reads back {shown!r} after writing {expected!r}"
            )
        return reading

    async def transfer_energy(
        self,
        *,
        source: DeviceSession | None = None,
        registers: Sequence[object] | None = None,
        confirm: bool = False,
    ) -> EnergyTransferResult:
        """Preset this meter's energy counters from an old meter (``energy_transfer.py``).

        Give the old meter's session (``source``) or its 28 noted registers.
        """
        self._refuse_a_foreign_device()
        async with self.bus.turn(Priority.COMMAND):
            result = await transfer_energy(
                self.bus,
                self.profile,
                self.unit,
                source=self.profile if source is None else source.profile,
                source_unit=None if source is None else source.unit,
                source_bus=None if source is None else source.bus,
                registers=registers,
                confirm=confirm,
            )
        self._counters.allow_reset()
        self._refresh_requested = True
        return result

    async def write_raw(
        self,
        table: Table,
        address: int,
        values: Sequence[int],
        *,
        confirm: bool = False,
        expert: bool = False,
    ) -> None:
        """Write raw registers (or coils) for support; everything is checked before sending.

        Without ``expert``, the words must cover exactly one point the profile declares
        writable, and must decode to a value its write rules allow (a dangerous point
        needs ``confirm``). With ``expert`` any address of a writable table may be
        written, and ``confirm`` is always needed: the engine cannot judge what it does.
        """
        self._refuse_a_foreign_device()
        words = _raw_words(table, address, values, self.profile.limits.max_write_registers)
        if expert:
            if not confirm:
                raise ConfirmationRequiredError(
                    "a raw write outside the profile needs an explicit confirmation"
                )
        else:
            point = self._point_at(table, address, len(words))
            self._writable_point(point.key, confirm=confirm)
            exponent = self._scale_exponent(point)
            try:
                value = decode_point(point, words, exponent)
            except DecodeError as err:
                raise WriteValidationError(str(err)) from err
            if value is None:
                raise WriteValidationError(f"{point.key}: {words} means 'not available'")
            encode_point(point, value, exponent)  # refuses what the write rules do not allow
        async with self.bus.turn(Priority.COMMAND):
            if table is Table.COIL:
                await self.bus.write_coils(
                    self.unit, address, [bool(w) for w in words], self.profile.limits
                )
            else:
                await self.bus.write_registers(self.unit, address, words, self.profile.limits)
        self._counters.allow_reset()
        self._refresh_requested = True

    def _point_at(self, table: Table, address: int, count: int) -> Point:
        """Return the point that occupies exactly ``count`` items from ``address``."""
        for point in self.profile.points:
            if point.table is table and point.address == address and point.count == count:
                if point.bit is None and point.bit_field is None:
                    return point
        raise WriteValidationError(
            f"{self.profile.key} declares no writable point at {table.value} {address} "
            f"of {count} item(s); raw writes elsewhere need the expert option"
        )

    async def read_registers(self, table: Table, address: int, count: int) -> list[int]:
        """Read raw registers (or bits) for support, ahead of any waiting poll."""
        if (
            count < 1
            or count > self.profile.limits.max_items(table)
            or not 0 <= address <= 0xFFFF - count + 1
        ):
            raise WriteValidationError(
                f"a read of {count} from {address} is outside what one request may ask"
            )
        async with self.bus.turn(Priority.COMMAND):
            values = await self.bus.read(self.unit, table, address, count, self.profile.limits)
        return [int(v) for v in values]

    def _writable_point(self, key: str, *, confirm: bool) -> Point:
        """Return point ``key`` if the profile lets it be written; checked before anything is sent."""
        self._refuse_a_foreign_device()
        if not self.profile.has_point(key):
            raise WriteValidationError(f"{self.profile.key} has no point '{key}'")
        point = self.profile.point(key)
        if point.write is None or point.table in (Table.INPUT_REGISTER, Table.DISCRETE_INPUT):
            raise WriteValidationError(f"{key} is not writable")
        if point.write.dangerous and not confirm:
            raise ConfirmationRequiredError(
                f"{key} is dangerous to write and needs an explicit confirmation"
            )
        return point

    def _scale_exponent(self, point: Point) -> int | None:
        """Return the exponent of a point's scale register, from its last valid reading."""
        if point.scale_point is None:
            return None
        scale = self._readings.get(point.scale_point)
        if scale is None or scale.state is not PointState.VALID or not scale.raw:
            raise WriteValidationError(
                f"{point.key}: its scale ({point.scale_point}) has not been read yet; poll first"
            )
        return exponent_from_register(scale.raw[0])


def _same(value: Value | None, expected: Value | None) -> bool:
    """Equality that tolerates float32 rounding of a written float."""
    if (
        isinstance(value, float)
        and isinstance(expected, int | float)
        and not isinstance(expected, bool)
    ):
        return math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9)
    return value == expected


def _raw_words(table: Table, address: int, values: Sequence[int], limit: int) -> list[int]:
    """Check raw words (or coil states) for a write; WriteValidationError when one is wrong."""
    if table not in (Table.HOLDING_REGISTER, Table.COIL):
        raise WriteValidationError(f"{table.value} is read-only")
    top = 1 if table is Table.COIL else 0xFFFF
    words = list(values)
    if not words or len(words) > limit:
        raise WriteValidationError(f"write 1 to {limit} values, not {len(words)}")
    for word in words:
        if isinstance(word, bool) or not isinstance(word, int) or not 0 <= word <= top:
            raise WriteValidationError(f"{word!r} is not a value from 0 to {top}")
    if not 0 <= address <= 0xFFFF - len(words) + 1:
        raise WriteValidationError(f"address {address} is outside 0..65535 for {len(words)} values")
    return words
