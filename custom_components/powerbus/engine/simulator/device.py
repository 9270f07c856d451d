"""What the simulator serves: the device protocol and a plain register image.

A simulated device answers reads and writes of the four Modbus tables. It refuses
a request by raising :class:`DeviceExceptionError` with the exception code a real
device would send; the simulator puts exactly that code on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConfigError, DeviceExceptionError
from ..models import Table

ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03

_LAST_ADDRESS = 0xFFFF
_LARGEST_REGISTER = 0xFFFF


class SimulatedDevice(Protocol):
    """A device behind one unit id on the simulated bus."""

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Return ``count`` values from ``address`` on; bits for coils and discrete inputs.

        Raise DeviceExceptionError to answer with a Modbus exception instead.
        """

    def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
        """Store ``values`` from ``address`` on.

        Raise DeviceExceptionError to answer with a Modbus exception instead.
        """


@runtime_checkable
class Addressable(Protocol):
    """A simulated device whose unit id is one of its own settings, which a write can change.

    The simulator sets ``unit_id`` to the unit id it serves the device on; the
    device changes it when a write moves it to another one (a meter's "Modbus
    address" register), and from then on the simulator serves it there.
    """

    unit_id: int | None


class RegisterImage:
    """A device that is a sparse map of values and nothing more.

    Only addresses present in the image can be read; reading any other address
    is answered with exception 0x02 (illegal data address), as many meters do for
    gaps in their register map. Only the (table, address) pairs listed as
    writable accept writes; writing anything else is answered with 0x02 too.
    A write either lands completely or changes nothing.
    """

    def __init__(
        self,
        values: Mapping[Table, Mapping[int, int | bool]] | None = None,
        *,
        writable: Iterable[tuple[Table, int]] = (),
    ) -> None:
        """Fill the image with ``values`` per table and note which addresses accept writes."""
        self._values: dict[Table, dict[int, int]] = {table: {} for table in Table}
        for table, cells in (values or {}).items():
            for address, value in cells.items():
                self.set(table, address, value)
        self._writable = frozenset(writable)

    def set(self, table: Table, address: int, value: int | bool) -> None:
        """Put ``value`` at ``address``, as the device itself would (no write rules apply)."""
        if not 0 <= address <= _LAST_ADDRESS:
            raise ConfigError(f"{table}[{address}]", f"address is outside 0..{_LAST_ADDRESS}")
        if not _fits(table, value):
            raise ConfigError(f"{table}[{address}]", f"value {value!r} does not fit the table")
        self._values[table][address] = int(value)

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Return the values, or refuse with 0x02 if any address is not in the image."""
        cells = self._values[table]
        span = range(address, address + count)
        if any(target not in cells for target in span):
            raise DeviceExceptionError(ILLEGAL_DATA_ADDRESS)
        if table.is_bit:
            return [bool(cells[target]) for target in span]
        return [cells[target] for target in span]

    def write(self, table: Table, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Store the values, or refuse the whole write with 0x02 (not writable) or 0x03 (bad value)."""
        if any((table, address + offset) not in self._writable for offset in range(len(values))):
            raise DeviceExceptionError(ILLEGAL_DATA_ADDRESS)
        if not all(_fits(table, value) for value in values):
            raise DeviceExceptionError(ILLEGAL_DATA_VALUE)
        for offset, value in enumerate(values):
            self._values[table][address + offset] = int(value)


def _fits(table: Table, value: int | bool) -> bool:
    """Whether ``value`` can be held by one item of ``table``."""
    if table.is_bit:
        return value in (0, 1)
    return 0 <= value <= _LARGEST_REGISTER
