"""``powerbus profiles``: list the shipped profiles, validate profile files, show one profile.

``validate`` checks every file it is given, even after a broken one, prints every
problem of each (one line each, naming file, point or command, and field) and
exits 2 when any file is invalid. ``show`` takes a profile key or a profile file, and
numbers registers as the profile's document does (with the PDU address beside), and
lists each command's parameters with their ranges, steps, units, choices and defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import sys
from typing import Any

from .. import ParamKind, ParamSpec, Point, ProfileError, builtin_profiles, load_profile_file
from ..models import Addressing
from .numbering import describe_numbering, register_number
from .output import EXIT_OK, EXIT_REFUSED, format_address, format_table, plural, serial_label
from .resolve import PROFILE_HELP, named_profile


def add_profiles_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus profiles [list | validate FILE... | show KEY]``."""
    profiles = commands.add_parser(
        "profiles",
        parents=[verbose],
        help="list, validate or show device profiles",
        description="List the shipped device profiles (the default), validate profile files, or show one profile.",
    )
    profiles.set_defaults(handler=_list)
    actions = profiles.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", parents=[verbose], help="table of the shipped profiles")
    listing.set_defaults(handler=_list)
    validate = actions.add_parser(
        "validate", parents=[verbose], help="check profile files with the engine's loader"
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=_validate)
    show = actions.add_parser("show", parents=[verbose], help="points and commands of one profile")
    show.add_argument("profile", metavar="PROFILE", help=PROFILE_HELP)
    show.set_defaults(handler=_show)


def _list(args: argparse.Namespace) -> int:
    """Print a table of the shipped profiles."""
    rows = [
        (
            profile.key,
            profile.manufacturer,
            profile.name,
            ", ".join(profile.models),
            str(len(profile.points)),
            str(len(profile.commands)),
            profile.source_file,
        )
        for profile in builtin_profiles().values()
    ]
    headers = ("key", "manufacturer", "name", "models", "points", "commands", "file")
    print(format_table(headers, rows, right={4, 5}))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    """Load each file with the engine's loader; report every problem, fail if any is invalid."""
    code = EXIT_OK
    for path in args.files:
        try:
            profiles = load_profile_file(path)
        except ProfileError as err:
            for problem in err.problems:
                print(f"invalid {problem}", file=sys.stderr)
            code = EXIT_REFUSED
            continue
        points = sum(len(profile.points) for profile in profiles.values())
        print(f"ok {path} ({plural(len(profiles), 'variant')}, {plural(points, 'point')})")
    return code


def _show(args: argparse.Namespace) -> int:
    """Print one profile: identity, points and commands."""
    profile = named_profile(args.profile, "PROFILE")
    transport = profile.transport
    print(f"{profile.name} ({profile.key}) by {profile.manufacturer}, from {profile.source_file}")
    if profile.models:
        print(f"models: {', '.join(profile.models)}")
    if profile.firmware:
        print(f"firmware: {profile.firmware}")
    print(
        f"defaults: unit {transport.unit_id}, TCP port {transport.port}, "
        f"serial {serial_label(transport)}"
    )
    print(f"registers: {describe_numbering(profile.addressing)}")
    print()
    point_rows: list[tuple[str, ...]] = [
        (
            point.key,
            point.table.value,
            str(register_number(profile, point.table, point.address)),
            format_address(point.address),
            str(point.address),
            _type_label(point),
            point.unit or "",
            point.group.value,
            _writable_label(point),
        )
        for point in profile.points
    ]
    headers: tuple[str, ...] = (
        "point",
        "table",
        "register",
        "address",
        "decimal",
        "type",
        "unit",
        "group",
        "writable",
    )
    if profile.addressing is Addressing.PDU:  # the register number is the PDU address
        headers = headers[:2] + headers[3:]
        point_rows = [row[:2] + row[3:] for row in point_rows]
    right = {column for column, name in enumerate(headers) if name in ("register", "decimal")}
    print(format_table(headers, point_rows, right=right))
    if profile.commands:
        print()
        command_rows = [
            (
                command.key,
                "yes" if command.dangerous else "",
                command.name,
                _params_label(command.params),
            )
            for command in profile.commands
        ]
        print(format_table(("command", "dangerous", "name", "params"), command_rows))
    return EXIT_OK


def _type_label(point: Point) -> str:
    """Name the data type, with the register count where the type does not fix it."""
    if point.data_type.fixed_count is None:
        return f"{point.data_type.value}[{point.count}]"
    return point.data_type.value


def _writable_label(point: Point) -> str:
    """Say whether a point is writable: 'yes', 'dangerous' or nothing."""
    if point.write is None:
        return ""
    return "dangerous" if point.write.dangerous else "yes"


def _params_label(params: Sequence[ParamSpec]) -> str:
    """Describe the parameters of a command in one line, e.g. ``seconds=int 1..30 s``."""
    return "; ".join(f"{spec.key}={_param_label(spec)}" for spec in params)


def _param_label(spec: ParamSpec) -> str:
    """Describe what one parameter accepts: kind, range, step, unit, choices and default.

    ``delay=int 0..65530 step 10 s, default 0``, ``timing=immediately|after_off_delay,
    default after_off_delay``, ``value=int 0..32767 or disabled (-32768)``.
    """
    if spec.kind is ParamKind.CHOICE:
        label = "|".join(spec.choices)
    else:
        label = spec.kind.value if spec.length is None else f"{spec.kind}[{spec.length}]"
        if spec.minimum is not None or spec.maximum is not None:
            low = "" if spec.minimum is None else f"{spec.minimum:g}"
            high = "" if spec.maximum is None else f"{spec.maximum:g}"
            label += f" {low}..{high}"
        if spec.step is not None:
            label += f" step {spec.step:g}"
        if spec.unit:
            label += f" {spec.unit}"
        if spec.choices:
            label += " or " + " or ".join(
                f"{name} ({value})" for name, value in spec.choices.items()
            )
    if spec.default is not None:
        label += f", default {_default_label(spec)}"
    return label


def _default_label(spec: ParamSpec) -> str:
    """Name a parameter's default as a user gives it: a choice by its label, a number plainly."""
    default = spec.default
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, int | float) and not isinstance(default, bool):
        named = [name for name, value in spec.choices.items() if value == default]
        return named[0] if named else f"{default:g}"
    return str(default)
