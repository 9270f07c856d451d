"""``powerbus scan``: find the devices on a link by probing unit ids."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import sys
from typing import Any, TextIO

from .. import Bus, LinkSettings, RetryPolicy, parse_link, scan
from .arguments import add_link_argument, add_timeout_argument, unit_ranges
from .output import EXIT_FAILURE, EXIT_OK, UNAVAILABLE, fail, format_table
from .resolve import serial_defaults, shipped_profiles

HIGHEST_UNIT = 247


def add_scan_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus scan LINK ...``."""
    scan_parser = commands.add_parser(
        "scan",
        parents=[verbose],
        help="find devices by probing unit ids",
        description="Probe unit ids on a link and identify the devices that answer with a shipped profile.",
    )
    add_link_argument(scan_parser)
    scan_parser.add_argument(
        "--units",
        type=unit_ranges,
        default=list(range(1, HIGHEST_UNIT + 1)),
        metavar="RANGES",
        help=f"unit ids to probe, e.g. 1-10,20 (default: 1-{HIGHEST_UNIT})",
    )
    add_timeout_argument(scan_parser, default_help="each profile's own")
    scan_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan_parser.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace) -> int:
    """Probe unit ids and print what answered."""
    settings = serial_defaults(parse_link(args.link), None)
    return asyncio.run(_run_scan(settings, args.link, args.units, args.timeout, as_json=args.json))


async def _run_scan(
    settings: LinkSettings, link: str, units: Sequence[int], timeout: float | None, *, as_json: bool
) -> int:
    """Probe every unit once (no retries) with every shipped profile."""
    progress = _ScanProgress(sys.stderr)
    async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
        found = await scan(bus, units, shipped_profiles(timeout), progress)
    progress.finish()
    if as_json:
        document = {
            "link": link,
            "devices": [
                {
                    "unit": identity.unit,
                    "profile": identity.profile.key,
                    "name": identity.profile.name,
                    "serial": identity.serial,
                    "firmware": identity.firmware,
                }
                for identity in found
            ],
        }
        print(json.dumps(document, indent=2))
    elif found:
        rows = [
            (
                str(identity.unit),
                identity.profile.key,
                identity.serial or UNAVAILABLE,
                identity.firmware or UNAVAILABLE,
            )
            for identity in found
        ]
        print(format_table(("unit", "profile", "serial", "firmware"), rows, right={0}))
    if not found:
        return fail(f"no device answered on {link} (probed {len(units)} unit ids)", EXIT_FAILURE)
    return EXIT_OK


class _ScanProgress:
    """Shows scan progress on one line of a terminal, or one line per unit elsewhere."""

    def __init__(self, out: TextIO) -> None:
        """Write to ``out``."""
        self.out = out
        self.overwrite = out.isatty()

    def __call__(self, done: int, total: int, found: int) -> None:
        """Report that ``done`` of ``total`` units are probed and ``found`` answered."""
        line = f"scanned {done}/{total}, found {found}"
        self.out.write(f"\r{line}" if self.overwrite else f"{line}\n")
        self.out.flush()

    def finish(self) -> None:
        """End the progress line."""
        if self.overwrite:
            self.out.write("\n")
            self.out.flush()
