"""Where the points of a family file lie: addresses resolved, views and overlaps checked.

A file numbers registers as its source document does (its ``addressing``): as PDU
addresses, as register numbers from 1, or as Modicon references such as 40001
that also name the table. Every address a profile model holds is already
resolved; a number that does not fit the convention is an :class:`AddressError`.

Two points of one variant and table may not read the same registers (or, for
bit selections of one register, the same bits), unless one is declared a view of
the other (``view_of``) or both are views of the same point: an overlap that is
not declared is a typing mistake that would show one register as two values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .errors import ProblemLog
from .models import Addressing, Point, Table

_MODICON_SPAN = 10000
_MODICON_TABLES = {
    0: Table.COIL,
    1: Table.DISCRETE_INPUT,
    3: Table.INPUT_REGISTER,
    4: Table.HOLDING_REGISTER,
}
_WHOLE_REGISTER = 0xFFFF
_LAST_ADDRESS = 0xFFFF


class AddressError(ValueError):
    """An address that does not fit the file's numbering; ``field`` is where it stands."""

    def __init__(self, message: str, field: str) -> None:
        """Say what is wrong and in which field."""
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressResolver:
    """Resolves the addresses of one family file, numbered as its ``addressing`` says."""

    file: str
    addressing: Addressing

    def resolve(self, address: int, table: Table | None, field: str) -> tuple[Table, int]:
        """Resolve a documented address to (table, zero-based PDU address).

        ``table`` is the table the file names, if any; a Modicon reference implies
        its own and must agree with it. ``field`` says where the address stands.
        """
        table, pdu = self._resolve(address, table, field)
        if pdu > _LAST_ADDRESS:
            raise AddressError(f"{address} lies past the last register address (65535)", field)
        return table, pdu

    def _resolve(self, address: int, table: Table | None, field: str) -> tuple[Table, int]:
        """Resolve an address by the file's numbering, without range checks."""
        if self.addressing is Addressing.MODICON:
            table_digit, offset = divmod(address, _MODICON_SPAN)
            if table_digit not in _MODICON_TABLES or offset == 0:
                raise AddressError(
                    f"{address} is not a Modicon reference (0xxxx/1xxxx/3xxxx/4xxxx)", field
                )
            implied = _MODICON_TABLES[table_digit]
            if table is not None and table is not implied:
                raise AddressError(
                    f"reference {address} is {with_article(implied.value)}, not {with_article(table.value)}",
                    "table",
                )
            return implied, self.addressing.pdu_address(address)
        if table is None:
            raise AddressError("a table is required", "table")
        if self.addressing is Addressing.REGISTER_NUMBER and address == 0:
            raise AddressError("register numbers start at 1", field)
        return table, self.addressing.pdu_address(address)


def document_number(addressing: Addressing, table: Table, address: int) -> int:
    """Return the number a document of ``addressing`` gives the register at PDU ``address``.

    The inverse of :meth:`AddressResolver.resolve`: 3000 for PDU address 2999 in
    register numbers; 40101 for PDU address 100 of the holding registers as a
    Modicon reference (with six digits, 410000, past the 9999th register of a table).
    """
    if addressing is Addressing.MODICON:
        digit = next(digit for digit, named in _MODICON_TABLES.items() if named is table)
        span = _MODICON_SPAN if address + 1 < _MODICON_SPAN else _MODICON_SPAN * 10
        return digit * span + address + 1
    if addressing is Addressing.REGISTER_NUMBER:
        return address + 1
    return address


def _bits(point: Point) -> int:
    """Return the bits of its register a one-register point reads, as a mask."""
    if point.bit is not None:
        return 1 << point.bit
    if point.bit_field is not None:
        low, high = point.bit_field
        return ((1 << (high - low + 1)) - 1) << low
    return _WHOLE_REGISTER


def _overlap(first: Point, second: Point) -> bool:
    """Whether two points read a register, or a bit, in common."""
    if first.table is not second.table:
        return False
    if first.address > second.end or second.address > first.end:
        return False
    one_register = first.count == second.count == 1 and not first.table.is_bit
    return not one_register or bool(_bits(first) & _bits(second))


def _within(view: Point, viewed: Point) -> bool:
    """Whether every register (and bit) ``view`` reads is one ``viewed`` reads."""
    if view.table is not viewed.table:
        return False
    if view.address < viewed.address or view.end > viewed.end:
        return False
    if viewed.count == 1 and not viewed.table.is_bit:
        return _bits(view) & ~_bits(viewed) == 0
    return True


def check_views(points: Mapping[str, Point], refused: Collection[str], log: ProblemLog) -> None:
    """Check each view of a variant: it names a point of the variant, and reads within it.

    A view names the point it reads, never another view; a view of a point in
    ``refused`` (already reported) is not reported again.
    """
    for point in points.values():
        viewed_key = point.view_of
        if viewed_key is None or viewed_key == point.key:
            continue
        viewed = points.get(viewed_key)
        if viewed is None:
            if viewed_key not in refused:
                log.add(
                    f"names no point of the variant: '{viewed_key}'",
                    point=point.key,
                    field="view_of",
                )
        elif viewed.view_of is not None:
            log.add(
                f"'{viewed_key}' is itself a view of '{viewed.view_of}'; name that point",
                point=point.key,
                field="view_of",
            )
        elif not _within(point, viewed):
            log.add(
                f"reads registers or bits that '{viewed_key}' does not read",
                point=point.key,
                field="view_of",
            )


def check_overlaps(points: Iterable[Point], log: ProblemLog) -> None:
    """Note every two points of a variant that overlap without being views of one point."""
    by_start = sorted(points, key=lambda point: (point.table, point.address))
    open_points: list[Point] = []
    for point in by_start:
        open_points = [
            earlier
            for earlier in open_points
            if earlier.table is point.table and earlier.end >= point.address
        ]
        for earlier in open_points:
            if (earlier.view_of or earlier.key) == (point.view_of or point.key):
                continue
            if _overlap(earlier, point):
                log.add(
                    f"reads a register (or bit) of point '{earlier.key}' too; if both show "
                    "the same value, declare one a view of the other (view_of)",
                    point=point.key,
                    field="address",
                )
        open_points.append(point)


def with_article(word: str) -> str:
    """Put "a" or "an" before a table's name."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
