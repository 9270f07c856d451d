"""A simulated device built from a profile: its register image and write rules.

The image holds every register of every point, and zeros in the rest of each
declared readable range, so block reads behave as on the real device: a read
that touches an address outside the image is refused with "illegal data
address". Writes are accepted only for registers of points the profile declares
writable, must cover whole points, and are checked against the point's write
limits ("illegal data value" otherwise, and nothing changes). A behaviour moves
the values over time and reacts to writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import time
from typing import Protocol

from ..codecs import decode_point, encode_value, to_signed16
from ..errors import DecodeError, DeviceExceptionError, WriteValidationError
from ..models import DataType, Point, Profile, Table, Value

ILLEGAL_FUNCTION = 0x01
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03


class Behaviour(Protocol):
    """How a simulated device's values move and how it reacts to writes."""

    def advance(self, device: ProfileDevice, now: float) -> None:
        """Bring the values up to time ``now`` (monotonic seconds)."""

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """React to a write before the image checks it; True when the behaviour took it over."""

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """React to an accepted write of ``point``."""


class ProfileDevice:
    """Serves a profile's register image; implements the simulator's device protocol."""

    def __init__(
        self,
        profile: Profile,
        behaviour: Behaviour | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the image: zeros in every readable range and at every point."""
        self.profile = profile
        self.behaviour = behaviour
        self.paused = False
        self.unit_id: int | None = None
        """The unit id the simulator serves the device on; a behaviour moves it when a write
        changes the device's own address setting (see :class:`~.device.Addressable`)."""
        self._clock = clock
        self._image: dict[Table, dict[int, int]] = {table: {} for table in Table}
        self._owner: dict[tuple[Table, int], Point] = {}
        for area in profile.limits.readable:
            for address in range(area.start, area.end + 1):
                self._image[area.table][address] = 0
        for point in profile.points:
            for address in range(point.address, point.address + point.count):
                self._image[point.table].setdefault(address, 0)
                self._owner.setdefault((point.table, address), point)
        if behaviour is not None:
            behaviour.advance(self, clock())

    @property
    def clock(self) -> Callable[[], float]:
        """The device's time source (monotonic seconds); behaviours time their timers by it."""
        return self._clock

    def set_value(self, key: str, value: Value) -> None:
        """Store ``value`` (user units) in the registers of point ``key``; a point the variant lacks is skipped."""
        if not self.profile.has_point(key):
            return
        point = self.profile.point(key)
        self.set_registers(point.table, point.address, self.encode(point, value))

    def encode(self, point: Point, value: Value) -> list[int]:
        """Return the registers that hold ``value`` for ``point``, without write checks."""
        if point.table.is_bit:
            return [int(bool(value))]
        raw: Value = value
        if point.options and isinstance(value, str):
            raw = next(r for r, label in point.options.items() if label == value)
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (point.scale != 1 or point.offset)
        ):
            raw = (value - point.offset) / point.scale
            if point.data_type not in (DataType.F32, DataType.F64):
                raw = round(raw)
        if (
            point.data_type in (DataType.U16, DataType.U32, DataType.U64)
            and isinstance(raw, int)
            and raw < 0
        ):
            raw += 1 << (16 * point.count)
        if point.data_type is DataType.S16 and isinstance(raw, int) and raw > 0x7FFF:
            raw = to_signed16(raw)
        return encode_value(point.data_type, raw, point.word_order, point.count)

    def get_value(self, key: str) -> Value | None:
        """Return the value point ``key`` holds now, decoded as a master would (None if absent)."""
        if not self.profile.has_point(key):
            return None
        point = self.profile.point(key)
        words = [
            self._image[point.table][a] for a in range(point.address, point.address + point.count)
        ]
        exponent = None
        if point.scale_point is not None:
            scale_point = self.profile.point(point.scale_point)
            raw = self._image[scale_point.table][scale_point.address]
            exponent = to_signed16(raw)
        return decode_point(point, words, exponent)

    def set_registers(self, table: Table, address: int, values: Sequence[int]) -> None:
        """Put raw registers (or bits as 0/1) into the image, bypassing every check."""
        for offset, value in enumerate(values):
            self._image[table][address + offset] = int(value) & 0xFFFF

    def registers(self, table: Table, address: int, count: int) -> list[int]:
        """Raw registers from the image, bypassing every check (tests, behaviours)."""
        return [self._image[table].get(a, 0) for a in range(address, address + count)]

    def refuse_unlisted(self) -> None:
        """Answer only the addresses the profile's points occupy, as a card that knows nothing else.

        Every other address, inside a declared readable range or not, is refused with
        "illegal data address" from now on (registers stored later are answered).
        """
        for table, cells in self._image.items():
            self._image[table] = {a: v for a, v in cells.items() if (table, a) in self._owner}

    def advance(self) -> None:
        """Let the behaviour move the values to the current time."""
        if self.behaviour is not None and not self.paused:
            self.behaviour.advance(self, self._clock())

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Answer a read as the device would."""
        self.advance()
        image = self._image[table]
        if any(a not in image for a in range(address, address + count)):
            raise DeviceExceptionError(ILLEGAL_ADDRESS)
        values = [image[a] for a in range(address, address + count)]
        if table.is_bit:
            return [bool(v) for v in values]
        return values

    def write(self, table: Table, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Accept a write to writable points, or refuse it without changing anything."""
        if table not in (Table.HOLDING_REGISTER, Table.COIL):
            raise DeviceExceptionError(ILLEGAL_FUNCTION)
        words = [int(v) for v in values]
        self.advance()
        if self.behaviour is not None and self.behaviour.on_write(self, table, address, words):
            return
        touched = self._touched_points(table, address, len(words))
        staged = dict(self._image[table])
        for offset, word in enumerate(words):
            staged[address + offset] = word & 0xFFFF
        decoded: list[tuple[Point, Value | None]] = []
        for point in touched:
            point_words = [staged[a] for a in range(point.address, point.address + point.count)]
            decoded.append((point, self._checked(point, point_words)))
        self._image[table] = staged
        if self.behaviour is not None:
            for point, value in decoded:
                self.behaviour.after_write(self, point, value)

    def _touched_points(self, table: Table, address: int, count: int) -> list[Point]:
        """Return the writable points a write covers completely; refuse anything else."""
        touched: list[Point] = []
        for target in range(address, address + count):
            point = self._owner.get((table, target))
            if point is None or not point.writable:
                raise DeviceExceptionError(ILLEGAL_ADDRESS)
            if point.address < address or point.end >= address + count:
                raise DeviceExceptionError(ILLEGAL_ADDRESS)
            if point not in touched:
                touched.append(point)
        return touched

    @staticmethod
    def _checked(point: Point, words: list[int]) -> Value | None:
        """Decode a written point and check it against the point's write limits."""
        try:
            value = decode_point(point, words)
        except DecodeError as err:
            raise DeviceExceptionError(ILLEGAL_VALUE) from err
        raw_value: Value | None = value
        if point.options:
            raw_value = next((r for r, label in point.options.items() if label == value), None)
        if raw_value is None:
            raise DeviceExceptionError(ILLEGAL_VALUE)
        spec = point.write
        assert spec is not None  # only writable points get here
        try:
            _check_against(spec.minimum, spec.maximum, spec.choices, raw_value)
        except WriteValidationError as err:
            raise DeviceExceptionError(ILLEGAL_VALUE) from err
        return value


def _check_against(
    minimum: float | None, maximum: float | None, choices: tuple[float, ...], value: Value
) -> None:
    """Refuse a written number outside the limits the profile declares."""
    if isinstance(value, str | bool):
        return
    if minimum is not None and value < minimum:
        raise WriteValidationError("below minimum")
    if maximum is not None and value > maximum:
        raise WriteValidationError("above maximum")
    if choices and not any(abs(value - c) <= 1e-6 * max(1.0, abs(c)) for c in choices):
        raise WriteValidationError("not an allowed choice")
