"""``powerbus read``: read a device's points through its profile, or raw registers."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import json
import logging
import sys
from typing import Any

from .. import (
    Bus,
    ConfigError,
    DeviceSession,
    LinkSettings,
    PollGroup,
    Profile,
    parse_link,
    recognise,
)
from ..models import Addressing, BusLimits
from ..profile_addresses import document_number
from .arguments import (
    RawSpan,
    add_device_arguments,
    add_timeout_argument,
    comma_list,
    poll_groups,
    positive_int,
    positive_seconds,
    raw_span,
)
from .numbering import raw_addresses
from .output import (
    EXIT_FAILURE,
    EXIT_OK,
    describe_device,
    fail,
    format_address,
    format_register,
    format_table,
)
from .readings import DEFAULT_WATCH_SECONDS, ReadOptions, selected_keys, show_readings
from .resolve import PROFILE_HELP, named_profile, serial_defaults, shipped_profiles, with_timeout

# The tool logs under its package's name (powerbus.cli).
_LOGGER = logging.getLogger(__package__)

AUTO_PROFILE = "auto"


def add_read_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus read LINK --unit N ...``."""
    read = commands.add_parser(
        "read",
        parents=[verbose],
        help="read a device's points, or raw registers",
        description=(
            "Read a device's points through its profile and print them, once or refreshing. "
            "Without --point, the points enabled by default are read (--all: every point)."
        ),
    )
    add_device_arguments(read)
    read.add_argument(
        "--profile",
        default=AUTO_PROFILE,
        metavar="PROFILE",
        help=f"{PROFILE_HELP}, or 'auto' (the default) to recognise the device",
    )
    selection = read.add_mutually_exclusive_group()
    selection.add_argument(
        "--group",
        type=poll_groups,
        metavar="GROUPS",
        help=f"only these poll groups, comma-separated ({', '.join(PollGroup)})",
    )
    selection.add_argument(
        "--point",
        dest="points",
        action="extend",
        nargs="+",
        type=comma_list,
        metavar="KEY",
        help="only these points (repeat or comma-separate)",
    )
    selection.add_argument(
        "--raw",
        type=raw_span,
        metavar="TABLE:ADDRESS:COUNT",
        help=(
            "read raw registers instead (TABLE: hr, ir, co, di or the full name; ADDRESS: decimal "
            "or 0x, a zero-based PDU address, or with --profile numbered as the profile's "
            "document numbers registers, e.g. hr:40051:3 for a Modicon-numbered profile)"
        ),
    )
    read.add_argument("--all", action="store_true", help="also read the points disabled by default")
    add_timeout_argument(read, default_help="the profile's")
    _add_output_arguments(read)
    read.set_defaults(handler=_read)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """--json, --watch and --count: how to print, and how often to read."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON instead of a table (one line per refresh with --watch)",
    )
    parser.add_argument(
        "--watch",
        type=positive_seconds,
        metavar="SECONDS",
        help="read again every SECONDS and refresh the output until Ctrl-C",
    )
    parser.add_argument(
        "--count",
        type=positive_int,
        metavar="N",
        help="stop after N reads (default: 1, or no limit with --watch)",
    )


def _read(args: argparse.Namespace) -> int:
    """Read a device's points (or raw registers) and print them."""
    link = parse_link(args.link)
    named = None
    if args.profile != AUTO_PROFILE:
        named = with_timeout(named_profile(args.profile), args.timeout)
    if args.raw is not None:
        if args.watch or args.count:
            raise ConfigError("--raw", "reads once; --watch and --count do not apply")
        raw = RawRead(span=args.raw, profile=named, as_json=args.json)
        return asyncio.run(_read_raw(serial_defaults(link, named), args.unit, raw, args.timeout))
    return asyncio.run(_read_points(serial_defaults(link, named), named, args))


async def _read_points(
    settings: LinkSettings, named: Profile | None, args: argparse.Namespace
) -> int:
    """Open the link, pick the profile, then read and print as asked."""
    device = describe_device(args.unit, args.link)
    bus = Bus(settings)
    try:
        await bus.open()
        found = (
            (named,) if named else await recognise(bus, args.unit, shipped_profiles(args.timeout))
        )
        if not found:
            return fail(
                f"no shipped profile recognises {device}; "
                "name one with --profile (see `powerbus profiles`)",
                EXIT_FAILURE,
            )
        if len(found) > 1:
            return fail(
                f"{device} may be any of {', '.join(p.key for p in found)}; "
                "name the right one with --profile (see `powerbus profiles show`)",
                EXIT_FAILURE,
            )
        profile = found[0]
        _LOGGER.debug("reading %s as %s", device, profile.key)
        groups = args.group or frozenset(PollGroup)
        options = ReadOptions(
            keys=selected_keys(profile, groups, args.points, include_disabled=args.all),
            interval=args.watch or DEFAULT_WATCH_SECONDS,
            repetitions=args.count or (None if args.watch else 1),
            as_json=args.json,
            title=f"{profile.name} ({profile.key}), {device}",
        )
        return await show_readings(
            DeviceSession(bus, profile, args.unit, enabled=options.keys), options, sys.stdout
        )
    finally:
        bus.close()


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRead:
    """What ``read --raw`` reads, numbered as ``profile``'s document does (PDU addresses without)."""

    span: RawSpan
    profile: Profile | None
    as_json: bool

    @property
    def addressing(self) -> Addressing:
        """How the registers are numbered."""
        return Addressing.PDU if self.profile is None else self.profile.addressing


async def _read_raw(settings: LinkSettings, unit: int, raw: RawRead, timeout: float | None) -> int:
    """Read raw registers (or bits) and print them with their numbers and PDU addresses."""
    table, first = raw_addresses(raw.span, raw.profile)
    if raw.profile is not None:
        limits = raw.profile.limits
    else:
        limits = BusLimits() if timeout is None else BusLimits(timeout=timeout)
    async with Bus(settings) as bus:
        answer = await bus.read(unit, table, first, raw.span.count, limits)
    values = [int(value) for value in answer]
    addresses = range(first, first + raw.span.count)
    numbers = [document_number(raw.addressing, table, address) for address in addresses]
    if raw.as_json:
        document = {
            "unit": unit,
            "table": table.value,
            "numbering": raw.addressing.value,
            "registers": [
                {
                    "register": number,
                    "address": address,
                    "hex": format_register(table, value),
                    "value": value,
                }
                for number, address, value in zip(numbers, addresses, values, strict=True)
            ],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    rows: list[tuple[str, ...]] = [
        (
            str(number),
            format_address(address),
            str(address),
            format_register(table, value),
            str(value),
        )
        for number, address, value in zip(numbers, addresses, values, strict=True)
    ]
    headers: tuple[str, ...] = ("register", "address", "decimal", "hex", "value")
    if raw.addressing is Addressing.PDU:  # the register number is the PDU address
        headers, rows = headers[1:], [row[1:] for row in rows]
    right = {
        column for column, name in enumerate(headers) if name in ("register", "decimal", "value")
    }
    print(format_table(headers, rows, right=right))
    return EXIT_OK
