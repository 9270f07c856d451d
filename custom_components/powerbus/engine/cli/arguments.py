"""What the ``powerbus`` arguments accept: converters for argparse, and arguments commands share.

Each converter turns the text of one argument into its value, or raises
``argparse.ArgumentTypeError`` so that argparse reports the argument with its usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
import math

from ..errors import ConfigError
from ..models import BusLimits, PollGroup, Table
from ..simulator.faults import CorruptFrame, Delay, DropConnection, ExceptionAnswer, Fault, NoAnswer

MAX_UNIT_ID = 255

TABLE_NAMES: Mapping[str, Table] = {
    **{table.value: table for table in Table},
    "co": Table.COIL,
    "di": Table.DISCRETE_INPUT,
    "ir": Table.INPUT_REGISTER,
    "hr": Table.HOLDING_REGISTER,
}


# ---------------------------------------------------------------------------
# Arguments several commands take
# ---------------------------------------------------------------------------


def add_link_argument(parser: argparse.ArgumentParser) -> None:
    """LINK, the link a command talks over."""
    parser.add_argument(
        "link", metavar="LINK", help="tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/tty..."
    )


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """LINK and --unit, shared by the commands that talk to one device."""
    add_link_argument(parser)
    parser.add_argument(
        "--unit", type=unit_id, required=True, metavar="N", help="Modbus unit id of the device"
    )


def add_timeout_argument(parser: argparse.ArgumentParser, *, default_help: str) -> None:
    """--timeout, shared by read and scan."""
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help=f"how long to wait for each answer (default: {default_help})",
    )


# ---------------------------------------------------------------------------
# Numbers and lists
# ---------------------------------------------------------------------------


def unit_id(text: str) -> int:
    """Parse a Modbus unit id, 0..255."""
    unit = _integer(text)
    if not 0 <= unit <= MAX_UNIT_ID:
        raise argparse.ArgumentTypeError(f"a unit id is 0..{MAX_UNIT_ID}, not {unit}")
    return unit


def _integer(text: str) -> int:
    """Parse a decimal or 0x-prefixed hexadecimal integer."""
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1."""
    number = _integer(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def positive_seconds(text: str) -> float:
    """Parse a finite number greater than zero."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return number


def tcp_port(text: str) -> int:
    """Parse a TCP port, 0..65535 (0: any free port)."""
    port = _integer(text)
    if not 0 <= port <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {port}")
    return port


def host_port(text: str) -> tuple[str, int]:
    """Parse HOST:PORT, with the host in brackets for IPv6 ([::1]:502)."""
    host, separator, port = text.rpartition(":")
    if not separator or not host:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT")
    return host.strip("[]"), tcp_port(port)


def comma_list(text: str) -> list[str]:
    """Split a comma-separated list, dropping blanks."""
    return [item.strip() for item in text.split(",") if item.strip()]


def poll_groups(text: str) -> frozenset[PollGroup]:
    """Parse comma-separated poll group names."""
    try:
        return frozenset(PollGroup(name) for name in comma_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' names an unknown group (known: {', '.join(PollGroup)})"
        ) from None


def unit_ranges(text: str) -> list[int]:
    """Parse unit id ranges like ``1-10,20`` into ascending ids without repeats."""
    units: set[int] = set()
    for part in comma_list(text):
        first, dash, last = part.partition("-")
        low = unit_id(first)
        high = unit_id(last) if dash else low
        if high < low:
            raise argparse.ArgumentTypeError(f"'{part}' runs backwards")
        units.update(range(low, high + 1))
    if not units:
        raise argparse.ArgumentTypeError("no unit ids given")
    return sorted(units)


# ---------------------------------------------------------------------------
# Register spans and simulator faults
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RawSpan:
    """What ``read --raw TABLE:ADDRESS:COUNT`` asks for.

    ``address`` is as given: a zero-based PDU address, or, with a profile, a
    register numbered as the profile's document numbers them (``numbering``).
    """

    table: Table
    address: int
    count: int


def raw_span(text: str) -> RawSpan:
    """Parse TABLE:ADDRESS:COUNT; the address is checked once its numbering is known."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' is not TABLE:ADDRESS:COUNT")
    name, address_text, count_text = parts
    table = TABLE_NAMES.get(name.strip().lower())
    if table is None:
        raise argparse.ArgumentTypeError(f"unknown table '{name}' (use {', '.join(TABLE_NAMES)})")
    address = _integer(address_text)
    count = positive_int(count_text)
    limit = BusLimits().max_items(table)
    if count > limit:
        raise argparse.ArgumentTypeError(
            f"one read of a {table.value} table is at most {limit} items"
        )
    if address < 0:
        raise argparse.ArgumentTypeError(f"'{address_text}' is negative; addresses start at 0")
    return RawSpan(table=table, address=address, count=count)


def simulator_fault(text: str) -> Fault:
    """Parse a simulator fault: no_answer, exception=CODE, delay=SECONDS, corrupt or drop."""
    kind, _, value = text.partition("=")
    try:
        if kind == "no_answer" and not value:
            return NoAnswer(times=None)
        if kind == "corrupt" and not value:
            return CorruptFrame(times=None)
        if kind == "drop" and not value:
            return DropConnection(times=None)
        if kind == "exception" and value:
            return ExceptionAnswer(code=_integer(value), times=None)
        if kind == "delay" and value:
            return Delay(seconds=positive_seconds(value), times=None)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(f"'{text}': {err}") from None
    raise argparse.ArgumentTypeError(
        f"'{text}' is no fault (use no_answer, exception=CODE, delay=SECONDS, corrupt or drop)"
    )
