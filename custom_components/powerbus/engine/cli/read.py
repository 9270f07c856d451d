"""``powerbus read``: read a device's points through its profile, or raw registers."""

from __future__ import annotations

import argparse
import asyncio
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
from ..models import BusLimits
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
        help="read raw registers instead (TABLE: hr, ir, co, di or the full name; ADDRESS: zero-based, decimal or 0x)",
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
    if args.raw is not None:
        if args.watch or args.count:
            raise ConfigError("--raw", "reads once; --watch and --count do not apply")
        limits = BusLimits() if args.timeout is None else BusLimits(timeout=args.timeout)
        settings = serial_defaults(link, None)
        return asyncio.run(_read_raw(settings, args.unit, args.raw, limits, as_json=args.json))
    named = None
    if args.profile != AUTO_PROFILE:
        named = with_timeout(named_profile(args.profile), args.timeout)
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


async def _read_raw(
    settings: LinkSettings, unit: int, span: RawSpan, limits: BusLimits, *, as_json: bool
) -> int:
    """Read raw registers (or bits) and print them with their addresses."""
    async with Bus(settings) as bus:
        answer = await bus.read(unit, span.table, span.address, span.count, limits)
    values = [int(value) for value in answer]
    addresses = range(span.address, span.address + span.count)
    if as_json:
        document = {
            "unit": unit,
            "table": span.table.value,
            "registers": [
                {"address": address, "hex": format_register(span.table, value), "value": value}
                for address, value in zip(addresses, values, strict=True)
            ],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    rows = [
        (format_address(address), str(address), format_register(span.table, value), str(value))
        for address, value in zip(addresses, values, strict=True)
    ]
    print(format_table(("address", "decimal", "hex", "value"), rows, right={1, 3}))
    return EXIT_OK
