"""``powerbus scan``: find the devices on a link by probing unit ids, then recognise them.

Every unit id gets one quick read (``--probe-timeout``, one try); only the units
that answer are then recognised with the shipped profiles, at each profile's own
timeout. Devices that answer but that no profile recognises are listed too.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import sys
from typing import Any, TextIO

from .. import (
    Bus,
    Identity,
    LinkKind,
    LinkSettings,
    RetryPolicy,
    ScanPhase,
    ScanProgress,
    ScanResult,
    parse_link,
    scan,
)
from ..scanner import TCP_PROBE_TIMEOUT, TURNAROUND_ALLOWANCE
from .arguments import add_link_argument, add_timeout_argument, positive_seconds, unit_ranges
from .output import EXIT_FAILURE, EXIT_OK, UNAVAILABLE, fail, format_table, plural
from .resolve import serial_defaults, shipped_profiles

HIGHEST_UNIT = 247
GATEWAY_UNITS = (254, 255)
"""Where a Modbus TCP gateway answers for itself; probed on TCP links unless --units says otherwise."""


def add_scan_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus scan LINK ...``."""
    scan_parser = commands.add_parser(
        "scan",
        parents=[verbose],
        help="find devices by probing unit ids",
        description=(
            "Probe unit ids on a link, each once with a short timeout, then recognise the devices "
            "that answered with the shipped profiles. Devices that answer but that no profile "
            "recognises are listed too."
        ),
    )
    add_link_argument(scan_parser)
    scan_parser.add_argument(
        "--units",
        type=unit_ranges,
        metavar="RANGES",
        help=(
            f"unit ids to probe, e.g. 1-10,20 (default: 1-{HIGHEST_UNIT}, "
            f"and {GATEWAY_UNITS[0]} and {GATEWAY_UNITS[1]} on tcp:// links, where gateways answer)"
        ),
    )
    scan_parser.add_argument(
        "--probe-timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help=(
            "how long each unit id has to answer the first read (default: on a serial line the "
            f"read's line time + {TURNAROUND_ALLOWANCE:g}, about 0.085 at 9600 Bd; "
            f"{TCP_PROBE_TIMEOUT:g} on TCP); raise it for slow devices and for gateways that "
            "wait for their serial line"
        ),
    )
    add_timeout_argument(scan_parser, default_help="each profile's own, while recognising")
    scan_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan_parser.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace) -> int:
    """Probe unit ids and print what answered."""
    settings = serial_defaults(parse_link(args.link), None)
    units = args.units or default_units(settings)
    return asyncio.run(
        _run_scan(settings, args.link, units, args, as_json=args.json, progress_out=sys.stderr)
    )


def default_units(settings: LinkSettings) -> list[int]:
    """Return the unit ids a scan probes unless told: every serial address, and a TCP gateway's own."""
    units = list(range(1, HIGHEST_UNIT + 1))
    return [*units, *GATEWAY_UNITS] if settings.kind is LinkKind.TCP else units


async def _run_scan(
    settings: LinkSettings,
    link: str,
    units: Sequence[int],
    args: argparse.Namespace,
    *,
    as_json: bool,
    progress_out: TextIO,
) -> int:
    """Scan once (no retries) with every shipped profile and print the result."""
    progress = _ScanProgressLine(progress_out)
    async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
        result = await scan(
            bus,
            units,
            shipped_profiles(args.timeout),
            progress,
            timeout=args.probe_timeout,
        )
    progress.finish()
    if as_json:
        print(json.dumps(_document(link, result), indent=2))
    else:
        _print_tables(result)
    summary = (
        f"probed {plural(result.units, 'unit id')} in {result.seconds:.1f} s: "
        f"{len(result.found)} recognised, {len(result.unrecognised)} not recognised"
    )
    if not result.found and not result.unrecognised:
        return fail(f"no device answered on {link} ({summary})", EXIT_FAILURE)
    print(summary, file=progress_out)
    return EXIT_OK


def _profile_text(identity: Identity) -> str:
    """Name the profile to read the device with, or the ones it may be."""
    if identity.variant_known:
        return identity.profile.key
    return "one of " + ", ".join(candidate.key for candidate in identity.candidates)


def _print_tables(result: ScanResult) -> None:
    """Print the recognised devices, then the units that answer but are not recognised."""
    if result.found:
        rows = [
            (
                str(identity.unit),
                identity.family,
                _profile_text(identity),
                identity.serial or UNAVAILABLE,
                identity.firmware or UNAVAILABLE,
            )
            for identity in result.found
        ]
        print(format_table(("unit", "family", "profile", "serial", "firmware"), rows, right={0}))
    if result.unrecognised:
        if result.found:
            print()
        print("answers, not recognised:")
        print(
            format_table(
                ("unit", "what it answered"),
                [(str(unit.unit), unit.answers) for unit in result.unrecognised],
                right={0},
            )
        )


def _document(link: str, result: ScanResult) -> dict[str, Any]:
    """Return the scan as a JSON document."""
    return {
        "link": link,
        "probed": result.units,
        "seconds": round(result.seconds, 3),
        "devices": [
            {
                "unit": identity.unit,
                "family": identity.family,
                "profile": identity.profile.key,
                "name": identity.profile.name,
                "candidates": [candidate.key for candidate in identity.candidates],
                "serial": identity.serial,
                "firmware": identity.firmware,
            }
            for identity in result.found
        ],
        "unrecognised": [
            {"unit": unit.unit, "answers": unit.answers} for unit in result.unrecognised
        ],
    }


class _ScanProgressLine:
    """Shows scan progress on one line of a terminal, or one line per step elsewhere."""

    def __init__(self, out: TextIO) -> None:
        """Write to ``out``."""
        self.out = out
        self.overwrite = out.isatty()

    def __call__(self, step: ScanProgress) -> None:
        """Report one step: units probed, units that answered, and the time left."""
        if step.phase is ScanPhase.PROBING:
            line = f"probed {step.probed}/{step.units}, {step.answered} answered"
        else:
            line = f"recognised {step.identified}/{step.answered} that answered"
        left = step.seconds_left
        if left is not None:
            line += f", about {left:.0f} s left"
        self.out.write(f"\r{line}\x1b[K" if self.overwrite else f"{line}\n")
        self.out.flush()

    def finish(self) -> None:
        """End the progress line."""
        if self.overwrite:
            self.out.write("\n")
            self.out.flush()
