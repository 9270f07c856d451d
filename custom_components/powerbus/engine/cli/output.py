"""What the ``powerbus`` tool tells its user: exit codes, error lines, tables and values."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
import sys

from ..models import Point, Table, TransportDefaults, Value

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_REFUSED = 2
EXIT_CODES = {
    EXIT_OK: "success (Ctrl-C ending `--watch`, `simulate` or `demo` included)",
    EXIT_FAILURE: (
        "the link or the device did not answer, not one point asked for could be read, the "
        "device refused a request or failed a command, `scan` found no device, or a simulator "
        "could not start"
    ),
    EXIT_REFUSED: (
        "refused before anything was sent: bad arguments, an invalid profile or profile file "
        "(`profiles validate` on a bad file included), a command or parameter the profile does "
        "not allow, or a dangerous command without `--confirm`"
    ),
}
"""What each exit code of ``powerbus`` means, as ``powerbus --help`` and the README say."""

UNAVAILABLE = "—"


def fail(message: str, code: int) -> int:
    """Print an error message on stderr and return ``code``."""
    print(f"powerbus: {message}", file=sys.stderr)
    return code


def describe_device(unit: int, link: str) -> str:
    """Name a device by its unit id and link: ``unit 1 on tcp://...``."""
    return f"unit {unit} on {link}"


def plural(count: int, noun: str) -> str:
    """Count a noun: ``1 point``, ``2 points``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def serial_label(line: TransportDefaults) -> str:
    """Describe serial line settings the usual way: ``9600 8E1``."""
    return f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"


def format_address(address: int) -> str:
    """Format a zero-based register address as four hex digits."""
    return f"0x{address:04X}"


def format_register(table: Table, value: int) -> str:
    """Format a register as four hex digits (a bit as one)."""
    return f"0x{value:X}" if table.is_bit else f"0x{value:04X}"


def format_value(point: Point, value: Value | None) -> str:
    """Format a value as people read it: the point's precision and unit, '—' when there is none."""
    number = format_number(point, value)
    return f"{number} {point.unit}" if value is not None and point.unit else number


def format_number(point: Point, value: Value | None) -> str:
    """Format a value with the point's precision (or its option label), without the unit."""
    if value is None:
        return UNAVAILABLE
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and value in point.options:
        return point.options[value]
    if isinstance(value, int | float) and point.precision is not None:
        return f"{value:.{point.precision}f}"
    return str(value)


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, right: Collection[int] = ()
) -> str:
    """Lay out a plain-text table: a header, a rule, and the rows; columns in ``right`` right-aligned."""
    body = [list(row) for row in rows]
    widths = [
        max([len(header), *(len(row[column]) for row in body)])
        for column, header in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        """One row with every cell padded to its column's width."""
        padded = (
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = ["-" * width for width in widths]
    return "\n".join([line(headers), line(rule), *(line(row) for row in body)])
