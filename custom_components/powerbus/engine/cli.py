"""The ``powerbus`` command-line tool: inspect profiles, talk to devices, simulate them.

Commands::

    powerbus profiles [list]               the shipped device profiles
    powerbus profiles validate FILE...     check profile files with the engine's loader
    powerbus profiles show KEY             points and commands of one profile
    powerbus read LINK --unit N            read a device's points (or raw registers)
    powerbus write LINK --unit N ...       run a profile command on a device
    powerbus scan LINK                     find devices by probing unit ids
    powerbus simulate PROFILE              serve a simulated device until stopped
    powerbus demo                          read a simulated PRO380 meter, refreshing

A LINK is ``tcp://HOST:PORT``, ``rtu+tcp://HOST:PORT`` or
``rtu:///dev/ttyUSB0?baudrate=9600&parity=E``. Exit codes: 0 success, 1 the device
or link did not answer (or a command failed on the device), 2 the request was
refused before anything was sent (bad arguments, an invalid profile or setting, a
dangerous command without ``--confirm``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, replace
import json
import logging
import math
import os
from pathlib import Path
import signal
import sys
import time
from typing import Any, TextIO

from .bus import Bus, RetryPolicy
from .commands import plan_command, run_command, validate_params
from .errors import (
    CommandFailedError,
    ConfigError,
    ConfirmationRequiredError,
    DeviceExceptionError,
    LinkError,
    ModbusError,
    PowerbusError,
    ProfileError,
    RequestTimeoutError,
    WriteValidationError,
)
from .identify import detect_profile, scan
from .link import DEFAULT_SERIAL, LinkKind, LinkSettings, parse_link
from .models import BusLimits, Command, ParamSpec, Point, PollGroup, Profile, Reading, Table, Value
from .poller import Poller, PollResult
from .profile import builtin_profiles, get_profile, load_profile_file, with_limits
from .simulator.behaviours import simulated_device
from .simulator.faults import (
    CorruptFrame,
    Delay,
    DropConnection,
    ExceptionAnswer,
    Fault,
    FaultPlan,
    NoAnswer,
)
from .simulator.server import Simulator

_LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_REFUSED = 2

AUTO_PROFILE = "auto"
DEFAULT_WATCH_SECONDS = 2.0
DEFAULT_SIMULATOR_HOST = "127.0.0.1"
DEFAULT_SIMULATOR_PORT = 5020
DEMO_PROFILE = "pro380"
DEMO_SPEED = 60.0
UNAVAILABLE = "—"
CLEAR_SCREEN = "\x1b[H\x1b[2J"
HIGHEST_UNIT = 247
MAX_UNIT_ID = 255

TABLE_NAMES: Mapping[str, Table] = {
    **{table.value: table for table in Table},
    "co": Table.COIL,
    "di": Table.DISCRETE_INPUT,
    "ir": Table.INPUT_REGISTER,
    "hr": Table.HOLDING_REGISTER,
}
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})

Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the process's) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_REFUSED
    _configure_logging(args.verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # Whoever read the output (`head`, a closed pager) has gone; stop quietly as Unix tools do,
        # and keep the interpreter from failing again when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except (ConfigError, ProfileError, WriteValidationError) as err:
        return _fail(str(err), EXIT_REFUSED)
    except ModbusError as err:
        return _fail(_describe_device_error(args, err), EXIT_FAILURE)
    except PowerbusError as err:
        return _fail(str(err), EXIT_FAILURE)


def _configure_logging(verbosity: int) -> None:
    """Log the engine's debug messages with ``-v``, and pymodbus' own too with ``-vv``."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.DEBUG if verbosity else logging.WARNING)
    # The engine reports link trouble itself; pymodbus' log lines would only repeat it.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if verbosity > 1 else logging.CRITICAL)


def _fail(message: str, code: int) -> int:
    """Print an error message on stderr and return ``code``."""
    print(f"powerbus: {message}", file=sys.stderr)
    return code


def _describe_device_error(args: argparse.Namespace, err: ModbusError) -> str:
    """Describe a device error, naming the link (and unit) that failed and how."""
    link = getattr(args, "link", None)
    if link is None:
        return str(err)
    unit = getattr(args, "unit", None)
    device = f"unit {unit} on {link}" if unit is not None else link
    if isinstance(err, LinkError):
        return f"cannot reach {device}: {err}"
    if isinstance(err, RequestTimeoutError):
        return f"{device} does not answer: {err}"
    if isinstance(err, DeviceExceptionError):
        return f"{device} refused the request: {err}"
    return f"{device}: {err}"


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every sub-command."""
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log debug messages (twice: pymodbus' too)",
    )
    parser = argparse.ArgumentParser(
        prog="powerbus",
        description="Read, write, scan and simulate Modbus power equipment (energy meters, UPS units).",
        epilog="LINK is tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/ttyUSB0?baudrate=9600&parity=E",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log debug messages (twice: pymodbus' too)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_profiles_parser(commands, verbose)
    _add_read_parser(commands, verbose)
    _add_write_parser(commands, verbose)
    _add_scan_parser(commands, verbose)
    _add_simulate_parser(commands, verbose)
    _add_demo_parser(commands, verbose)
    return parser


def _add_profiles_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus profiles [list | validate FILE... | show KEY]``."""
    profiles = commands.add_parser(
        "profiles",
        parents=[verbose],
        help="list, validate or show device profiles",
        description="List the shipped device profiles (the default), validate profile files, or show one profile.",
    )
    profiles.set_defaults(handler=_profiles_list)
    actions = profiles.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", parents=[verbose], help="table of the shipped profiles")
    listing.set_defaults(handler=_profiles_list)
    validate = actions.add_parser(
        "validate", parents=[verbose], help="check profile files with the engine's loader"
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.set_defaults(handler=_profiles_validate)
    show = actions.add_parser("show", parents=[verbose], help="points and commands of one profile")
    show.add_argument("key", metavar="KEY", help="profile key, as listed by `powerbus profiles`")
    show.set_defaults(handler=_profiles_show)


def _add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """LINK and --unit, shared by the commands that talk to one device."""
    parser.add_argument(
        "link", metavar="LINK", help="tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/tty..."
    )
    parser.add_argument(
        "--unit", type=_unit_id, required=True, metavar="N", help="Modbus unit id of the device"
    )


def _add_read_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
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
    _add_device_arguments(read)
    read.add_argument(
        "--profile",
        default=AUTO_PROFILE,
        metavar="KEY",
        help="profile key, or 'auto' (the default) to recognise the device",
    )
    selection = read.add_mutually_exclusive_group()
    selection.add_argument(
        "--group",
        type=_poll_groups,
        metavar="GROUPS",
        help=f"only these poll groups, comma-separated ({', '.join(PollGroup)})",
    )
    selection.add_argument(
        "--point",
        dest="points",
        action="extend",
        nargs="+",
        type=_comma_list,
        metavar="KEY",
        help="only these points (repeat or comma-separate)",
    )
    selection.add_argument(
        "--raw",
        type=_raw_span,
        metavar="TABLE:ADDRESS:COUNT",
        help="read raw registers instead (TABLE: hr, ir, co, di or the full name; ADDRESS: zero-based, decimal or 0x)",
    )
    read.add_argument("--all", action="store_true", help="also read the points disabled by default")
    _add_timeout_argument(read, default_help="the profile's")
    _add_output_arguments(
        read, json_help="print JSON instead of a table (one line per refresh with --watch)"
    )
    read.set_defaults(handler=_read)


def _add_timeout_argument(parser: argparse.ArgumentParser, *, default_help: str) -> None:
    """--timeout, shared by read and scan."""
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help=f"how long to wait for each answer (default: {default_help})",
    )


def _add_output_arguments(parser: argparse.ArgumentParser, *, json_help: str) -> None:
    """--json, --watch and --count, shared by read and demo."""
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument(
        "--watch",
        type=_positive_seconds,
        metavar="SECONDS",
        help="read again every SECONDS and refresh the output until Ctrl-C",
    )
    parser.add_argument(
        "--count",
        type=_positive_int,
        metavar="N",
        help="stop after N reads (default: 1, or no limit with --watch)",
    )


def _add_write_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus write LINK --unit N --profile KEY --command KEY ...``."""
    write = commands.add_parser(
        "write",
        parents=[verbose],
        help="run a profile command on a device",
        description="Run a command of the device's profile. Dangerous commands need --confirm.",
    )
    _add_device_arguments(write)
    write.add_argument("--profile", required=True, metavar="KEY", help="profile key of the device")
    write.add_argument(
        "--command", required=True, metavar="KEY", help="command key (see `powerbus profiles show`)"
    )
    write.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a command parameter (repeat for several)",
    )
    write.add_argument("--confirm", action="store_true", help="allow a dangerous command")
    write.set_defaults(handler=_write)


def _add_scan_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus scan LINK ...``."""
    scan_parser = commands.add_parser(
        "scan",
        parents=[verbose],
        help="find devices by probing unit ids",
        description="Probe unit ids on a link and identify the devices that answer with a shipped profile.",
    )
    scan_parser.add_argument(
        "link", metavar="LINK", help="tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/tty..."
    )
    scan_parser.add_argument(
        "--units",
        type=_unit_ranges,
        default=list(range(1, HIGHEST_UNIT + 1)),
        metavar="RANGES",
        help=f"unit ids to probe, e.g. 1-10,20 (default: 1-{HIGHEST_UNIT})",
    )
    _add_timeout_argument(scan_parser, default_help="each profile's own")
    scan_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan_parser.set_defaults(handler=_scan)


def _add_simulate_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus simulate PROFILE ...``."""
    simulate = commands.add_parser(
        "simulate",
        parents=[verbose],
        help="serve a simulated device until Ctrl-C",
        description=(
            f"Serve a simulated device built from a profile, on Modbus TCP "
            f"({DEFAULT_SIMULATOR_HOST}:{DEFAULT_SIMULATOR_PORT} unless --tcp or --rtu say otherwise)."
        ),
    )
    simulate.add_argument(
        "profile", metavar="PROFILE", help="profile key, as listed by `powerbus profiles`"
    )
    simulate.add_argument(
        "--unit", type=_unit_id, metavar="N", help="unit id to answer on (default: the profile's)"
    )
    simulate.add_argument(
        "--tcp",
        type=_host_port,
        metavar="HOST:PORT",
        help=f"serve Modbus TCP here (port 0: any free port; default {DEFAULT_SIMULATOR_HOST}:{DEFAULT_SIMULATOR_PORT})",
    )
    simulate.add_argument(
        "--rtu",
        metavar="PATH",
        help="serve Modbus RTU on this serial port (e.g. one end of a socat pty pair)",
    )
    simulate.add_argument(
        "--baudrate", type=_positive_int, help="RTU baud rate (default: the profile's)"
    )
    simulate.add_argument(
        "--parity",
        choices=("N", "E", "O"),
        type=str.upper,
        help="RTU parity (default: the profile's)",
    )
    simulate.add_argument(
        "--stopbits", type=int, choices=(1, 2), help="RTU stop bits (default: the profile's)"
    )
    simulate.add_argument(
        "--bytesize", type=int, choices=(7, 8), help="RTU data bits (default: the profile's)"
    )
    simulate.add_argument(
        "--speed",
        type=_positive_seconds,
        default=1.0,
        metavar="X",
        help="run simulated time X times faster (energy counters move faster)",
    )
    simulate.add_argument(
        "--fault",
        dest="faults",
        action="append",
        type=_fault,
        default=[],
        metavar="FAULT",
        help="misbehave on every request: no_answer, exception=CODE, delay=SECONDS, corrupt or drop (repeatable)",
    )
    simulate.set_defaults(handler=_simulate)


def _add_demo_parser(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus demo ...``."""
    demo = commands.add_parser(
        "demo",
        parents=[verbose],
        help="watch a simulated PRO380 energy meter",
        description=(
            f"Start a simulated PRO380 meter on {DEFAULT_SIMULATOR_HOST} (time running {DEMO_SPEED:g}x faster) "
            "and read it, refreshing the table until Ctrl-C."
        ),
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=0,
        help="TCP port of the simulated meter (default: any free port)",
    )
    demo.add_argument(
        "--watch",
        type=_positive_seconds,
        default=DEFAULT_WATCH_SECONDS,
        metavar="SECONDS",
        help=f"seconds between reads (default {DEFAULT_WATCH_SECONDS:g})",
    )
    demo.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop after N reads (default: no limit)"
    )
    demo.set_defaults(handler=_demo)


def _unit_id(text: str) -> int:
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


def _positive_int(text: str) -> int:
    """Parse a whole number of at least 1."""
    number = _integer(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _positive_seconds(text: str) -> float:
    """Parse a finite number greater than zero."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return number


def _port(text: str) -> int:
    """Parse a TCP port, 0..65535 (0: any free port)."""
    port = _integer(text)
    if not 0 <= port <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {port}")
    return port


def _host_port(text: str) -> tuple[str, int]:
    """Parse HOST:PORT, with the host in brackets for IPv6 ([::1]:502)."""
    host, separator, port = text.rpartition(":")
    if not separator or not host:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT")
    return host.strip("[]"), _port(port)


def _comma_list(text: str) -> list[str]:
    """Split a comma-separated list, dropping blanks."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _poll_groups(text: str) -> frozenset[PollGroup]:
    """Parse comma-separated poll group names."""
    try:
        return frozenset(PollGroup(name) for name in _comma_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' names an unknown group (known: {', '.join(PollGroup)})"
        ) from None


def _unit_ranges(text: str) -> list[int]:
    """Parse unit id ranges like ``1-10,20`` into ascending ids without repeats."""
    units: set[int] = set()
    for part in _comma_list(text):
        first, dash, last = part.partition("-")
        low = _unit_id(first)
        high = _unit_id(last) if dash else low
        if high < low:
            raise argparse.ArgumentTypeError(f"'{part}' runs backwards")
        units.update(range(low, high + 1))
    if not units:
        raise argparse.ArgumentTypeError("no unit ids given")
    return sorted(units)


@dataclass(frozen=True, kw_only=True, slots=True)
class RawSpan:
    """What ``read --raw TABLE:ADDRESS:COUNT`` asks for."""

    table: Table
    address: int
    count: int


def _raw_span(text: str) -> RawSpan:
    """Parse TABLE:ADDRESS:COUNT (zero-based PDU address)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' is not TABLE:ADDRESS:COUNT")
    name, address_text, count_text = parts
    table = TABLE_NAMES.get(name.strip().lower())
    if table is None:
        raise argparse.ArgumentTypeError(f"unknown table '{name}' (use {', '.join(TABLE_NAMES)})")
    address = _integer(address_text)
    count = _positive_int(count_text)
    limit = BusLimits().max_items(table)
    if count > limit:
        raise argparse.ArgumentTypeError(
            f"one read of a {table.value} table is at most {limit} items"
        )
    if address < 0 or address + count - 1 > 0xFFFF:
        raise argparse.ArgumentTypeError(
            f"addresses {address}..{address + count - 1} lie outside 0..65535"
        )
    return RawSpan(table=table, address=address, count=count)


def _fault(text: str) -> Fault:
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
            return Delay(seconds=_positive_seconds(value), times=None)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(f"'{text}': {err}") from None
    raise argparse.ArgumentTypeError(
        f"'{text}' is no fault (use no_answer, exception=CODE, delay=SECONDS, corrupt or drop)"
    )


# ---------------------------------------------------------------------------
# powerbus profiles
# ---------------------------------------------------------------------------


def _profiles_list(args: argparse.Namespace) -> int:
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


def _profiles_validate(args: argparse.Namespace) -> int:
    """Load each file with the engine's loader; report each, fail if any is invalid."""
    code = EXIT_OK
    for path in args.files:
        try:
            profiles = load_profile_file(path)
        except ProfileError as err:
            print(f"invalid {err}", file=sys.stderr)
            code = EXIT_FAILURE
            continue
        points = sum(len(profile.points) for profile in profiles.values())
        print(f"ok {path} ({_plural(len(profiles), 'variant')}, {_plural(points, 'point')})")
    return code


def _profiles_show(args: argparse.Namespace) -> int:
    """Print one profile: identity, points and commands."""
    profile = get_profile(args.key)
    transport = profile.transport
    print(f"{profile.name} ({profile.key}) by {profile.manufacturer}, from {profile.source_file}")
    if profile.models:
        print(f"models: {', '.join(profile.models)}")
    if profile.firmware:
        print(f"firmware: {profile.firmware}")
    print(
        f"defaults: unit {transport.unit_id}, TCP port {transport.port}, serial {transport.baudrate} "
        f"{transport.bytesize}{transport.parity}{transport.stopbits}"
    )
    print()
    point_rows = [
        (
            point.key,
            point.table.value,
            f"0x{point.address:04X}",
            str(point.address),
            _type_label(point),
            point.unit or "",
            point.group.value,
            _writable_label(point),
        )
        for point in profile.points
    ]
    headers = ("point", "table", "address", "decimal", "type", "unit", "group", "writable")
    print(format_table(headers, point_rows, right={3}))
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
    """Describe what one parameter accepts."""
    if spec.kind == "choice":
        return "|".join(spec.choices)
    label = spec.kind if spec.length is None else f"{spec.kind}[{spec.length}]"
    if spec.minimum is not None or spec.maximum is not None:
        low = "" if spec.minimum is None else f"{spec.minimum:g}"
        high = "" if spec.maximum is None else f"{spec.maximum:g}"
        label += f" {low}..{high}"
    if spec.unit:
        label += f" {spec.unit}"
    return label


# ---------------------------------------------------------------------------
# powerbus read / demo
# ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadOptions:
    """What to read, how often, and how to print it."""

    groups: frozenset[PollGroup]
    keys: Collection[str]
    interval: float
    repetitions: int | None
    as_json: bool
    title: str


def _read(args: argparse.Namespace) -> int:
    """Read a device's points (or raw registers) and print them."""
    link = parse_link(args.link)
    if args.raw is not None:
        if args.watch or args.count:
            raise ConfigError("--raw", "reads once; --watch and --count do not apply")
        limits = BusLimits() if args.timeout is None else BusLimits(timeout=args.timeout)
        settings = _serial_defaults(link, None)
        return asyncio.run(_read_raw(settings, args.unit, args.raw, limits, as_json=args.json))
    named = None
    if args.profile != AUTO_PROFILE:
        named = _with_timeout(get_profile(args.profile), args.timeout)
    return asyncio.run(_read_points(_serial_defaults(link, named), named, args))


def _with_timeout(profile: Profile, timeout: float | None) -> Profile:
    """Give the profile the answer timeout the user asked for, if any."""
    if timeout is None:
        return profile
    return with_limits(profile, timeout=timeout, timeout_per_register=0.0)


def _serial_defaults(link: LinkSettings, profile: Profile | None) -> LinkSettings:
    """Fill an RTU link's serial settings from the profile wherever the URL names none."""
    if link.kind is not LinkKind.RTU:
        return link
    return link.resolve(profile.transport if profile is not None else DEFAULT_SERIAL)


async def _read_points(
    settings: LinkSettings, named: Profile | None, args: argparse.Namespace
) -> int:
    """Open the link, pick the profile, then read and print as asked."""
    bus = Bus(settings)
    try:
        await bus.open()
        profile = named or await _detect(bus, args.unit, args.timeout)
        if profile is None:
            return _fail(
                f"no shipped profile recognises unit {args.unit} on {args.link}; "
                "name one with --profile (see `powerbus profiles`)",
                EXIT_FAILURE,
            )
        _LOGGER.debug("reading unit %s on %s as %s", args.unit, args.link, profile.key)
        groups = args.group or frozenset(PollGroup)
        options = ReadOptions(
            groups=groups,
            keys=_selected_keys(profile, groups, args.points, include_disabled=args.all),
            interval=args.watch or DEFAULT_WATCH_SECONDS,
            repetitions=args.count or (None if args.watch else 1),
            as_json=args.json,
            title=f"{profile.name} ({profile.key}), unit {args.unit} on {args.link}",
        )
        return await show_readings(Poller(bus, profile, args.unit), options, sys.stdout)
    finally:
        bus.close()


async def _detect(bus: Bus, unit: int, timeout: float | None) -> Profile | None:
    """Recognise the device at ``unit`` among the shipped profiles."""
    candidates = [_with_timeout(profile, timeout) for profile in builtin_profiles().values()]
    return await detect_profile(bus, unit, candidates)


def _selected_keys(
    profile: Profile,
    groups: Collection[PollGroup],
    points: Sequence[list[str]] | None,
    *,
    include_disabled: bool,
) -> list[str]:
    """Choose the keys of the points to read: those named, or those of the groups."""
    if points:
        keys = [key for chunk in points for key in chunk]
        unknown = [key for key in keys if not profile.has_point(key)]
        if unknown:
            raise ConfigError(
                "--point", f"{profile.key} has no point {', '.join(map(repr, unknown))}"
            )
        return keys
    return [
        point.key
        for point in profile.points
        if point.group in groups and (include_disabled or point.enabled_by_default)
    ]


async def show_readings(poller: Poller, options: ReadOptions, out: TextIO) -> int:
    """Poll and print as often as ``options`` say; exit code 1 when a single read gets no answer."""
    clear = out.isatty() and not options.as_json
    done = 0
    while True:
        started = time.monotonic()
        result = await poller.poll(options.groups, options.keys)
        done += 1
        if options.repetitions == 1 and not result.available:
            return _fail(
                f"unit {poller.unit} on {poller.bus.settings.describe()} does not answer: {result.error}",
                EXIT_FAILURE,
            )
        if options.as_json:
            document = readings_document(poller, result)
            indent = 2 if options.repetitions == 1 else None
            out.write(json.dumps(document, indent=indent, ensure_ascii=False) + "\n")
        else:
            frame = render_readings(poller, result, options.title)
            if clear:
                out.write(CLEAR_SCREEN)
            elif done > 1:
                out.write("\n")
            out.write(frame)
        out.flush()
        if options.repetitions is not None and done >= options.repetitions:
            return EXIT_OK
        await asyncio.sleep(max(0.0, options.interval - (time.monotonic() - started)))


def readings_document(poller: Poller, result: PollResult) -> dict[str, Any]:
    """Describe one poll as plain data: profile, unit, readings and the device's statistics."""
    profile = poller.profile
    return {
        "profile": profile.key,
        "unit": poller.unit,
        "readings": {
            key: {
                "value": _json_value(reading.value),
                "unit": profile.point(key).unit,
                "state": reading.state.value,
                "error": reading.error,
            }
            for key, reading in _in_profile_order(profile, result)
        },
        "stats": poller.stats.as_dict(),
    }


def _json_value(value: Value | None) -> Value | None:
    """Make a value JSON can hold (NaN and infinities have no JSON form)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_readings(poller: Poller, result: PollResult, title: str) -> str:
    """Render one poll as a titled table with a statistics footer."""
    rows = []
    for key, reading in _in_profile_order(poller.profile, result):
        point = poller.profile.point(key)
        number = format_number(point, reading.value)
        unit = point.unit if reading.value is not None and point.unit else ""
        rows.append((key, number, unit, reading.state.value))
    stats = poller.stats
    footer = (
        f"{stats.requests} requests ({stats.responses} answered normally), {stats.retries} retries, "
        f"mean latency {stats.latency_mean * 1000:.1f} ms; read at {time.strftime('%H:%M:%S')}"
    )
    if result.error:
        footer += f"\nno answer: {result.error}"
    table = format_table(("point", "value", "unit", "state"), rows, right={1})
    return f"{title}\n\n{table}\n\n{footer}\n"


def _in_profile_order(profile: Profile, result: PollResult) -> Iterable[tuple[str, Reading]]:
    """Yield the readings of a poll in the order the profile lists its points."""
    for point in profile.points:
        reading = result.readings.get(point.key)
        if reading is not None:
            yield point.key, reading


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
                {"address": address, "hex": _hex(span.table, value), "value": value}
                for address, value in zip(addresses, values, strict=True)
            ],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    rows = [
        (f"0x{address:04X}", str(address), _hex(span.table, value), str(value))
        for address, value in zip(addresses, values, strict=True)
    ]
    print(format_table(("address", "decimal", "hex", "value"), rows, right={1, 3}))
    return EXIT_OK


def _hex(table: Table, value: int) -> str:
    """Format a register as four hex digits (a bit as one)."""
    return f"0x{value:X}" if table.is_bit else f"0x{value:04X}"


def _demo(args: argparse.Namespace) -> int:
    """Start a simulated PRO380 and watch it."""
    return asyncio.run(_run_demo(args.port, args.watch, args.count))


async def _run_demo(port: int, interval: float, repetitions: int | None) -> int:
    """Serve the simulated meter and read it in the same event loop."""
    profile = get_profile(DEMO_PROFILE)
    unit = profile.transport.unit_id
    simulator = Simulator({unit: simulated_device(profile, speed=DEMO_SPEED)})
    port = await simulator.start_tcp(DEFAULT_SIMULATOR_HOST, port)
    link = f"tcp://{DEFAULT_SIMULATOR_HOST}:{port}"
    bus = Bus(parse_link(link))
    try:
        options = ReadOptions(
            groups=frozenset(PollGroup),
            keys=_selected_keys(profile, frozenset(PollGroup), None, include_disabled=False),
            interval=interval,
            repetitions=repetitions,
            as_json=False,
            title=(
                f"{profile.name}, simulated at {link} (unit {unit}), time {DEMO_SPEED:g}x faster. "
                f"Ctrl-C to stop.\nRead it from another terminal: powerbus read {link} --unit {unit}"
            ),
        )
        return await show_readings(Poller(bus, profile, unit), options, sys.stdout)
    finally:
        bus.close()
        await simulator.stop()


# ---------------------------------------------------------------------------
# powerbus write
# ---------------------------------------------------------------------------


def _write(args: argparse.Namespace) -> int:
    """Validate a command completely, then run it on the device."""
    profile = get_profile(args.profile)
    try:
        command = profile.command(args.command)
    except KeyError:
        known = ", ".join(c.key for c in profile.commands) or "none"
        raise WriteValidationError(
            f"{profile.key} has no command '{args.command}' (known: {known})"
        ) from None
    params = _command_params(command, args.params)
    plan_command(profile, command, validate_params(command, params))
    if command.dangerous and not args.confirm:
        why = f" {command.description}" if command.description else ""
        raise ConfirmationRequiredError(
            f"'{command.key}' ({command.name}) is dangerous and was not sent.{why} "
            "Add --confirm to run it."
        )
    settings = _serial_defaults(parse_link(args.link), profile)
    return asyncio.run(
        _run_write(settings, profile, args.unit, command, params, confirm=args.confirm)
    )


async def _run_write(
    settings: LinkSettings,
    profile: Profile,
    unit: int,
    command: Command,
    params: Mapping[str, Any],
    *,
    confirm: bool,
) -> int:
    """Run the command and report what the device read back."""
    async with Bus(settings) as bus:
        try:
            result = await run_command(bus, profile, unit, command.key, params, confirm=confirm)
        except CommandFailedError as err:
            return _fail(f"unit {unit} on {settings.describe()}: {err}", EXIT_FAILURE)
    readback = ", ".join(
        f"{label} = {format_value(profile.point(label), value) if profile.has_point(label) else value}"
        for label, value in result.readback.items()
    )
    writes = _plural(result.writes, "write")
    print(
        f"{command.key} on unit {unit}: {result.outcome} ({writes}"
        f"{'; read back ' + readback if readback else ''}) in {result.duration:.2f} s"
    )
    return EXIT_OK


def _command_params(command: Command, pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs typed as the command's parameters expect."""
    specs = {spec.key: spec for spec in command.params}
    params: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise ConfigError("--param", f"'{pair}' is not KEY=VALUE")
        spec = specs.get(key)
        # An unknown key passes through as text; the command's validation names it.
        params[key] = text if spec is None else _param_value(command, spec, text)
    return params


def _param_value(command: Command, spec: ParamSpec, text: str) -> Any:
    """Convert the text of one parameter into the value its kind takes."""
    where = f"{command.key}: parameter '{spec.key}'"
    if spec.kind == "bool":
        word = text.strip().lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise WriteValidationError(f"{where} must be true or false, not '{text}'")
        return word in _TRUE_WORDS
    if spec.kind == "choice":
        return int(text) if text.isdigit() and text not in spec.choices else text
    if spec.kind == "int_list":
        return [_number(where, item) for item in _comma_list(text)]
    return _number(where, text)


def _number(where: str, text: str) -> int | float:
    """Parse an int when the text is one, else a float; WriteValidationError when it is neither."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise WriteValidationError(f"{where} must be a number, not '{text}'") from None


# ---------------------------------------------------------------------------
# powerbus scan
# ---------------------------------------------------------------------------


def _scan(args: argparse.Namespace) -> int:
    """Probe unit ids and print what answered."""
    settings = _serial_defaults(parse_link(args.link), None)
    return asyncio.run(_run_scan(settings, args.link, args.units, args.timeout, as_json=args.json))


async def _run_scan(
    settings: LinkSettings, link: str, units: Sequence[int], timeout: float | None, *, as_json: bool
) -> int:
    """Probe every unit once (no retries) with every shipped profile."""
    candidates = [_with_timeout(profile, timeout) for profile in builtin_profiles().values()]
    progress = _ScanProgress(sys.stderr)
    async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
        found = await scan(bus, units, candidates, progress)
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
        return _fail(f"no device answered on {link} (probed {len(units)} unit ids)", EXIT_FAILURE)
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


# ---------------------------------------------------------------------------
# powerbus simulate
# ---------------------------------------------------------------------------


def _simulate(args: argparse.Namespace) -> int:
    """Serve a simulated device until Ctrl-C or SIGTERM."""
    profile = get_profile(args.profile)
    return asyncio.run(_run_simulator(profile, args))


async def _run_simulator(profile: Profile, args: argparse.Namespace) -> int:
    """Start the listeners, say where they are, and wait for a stop signal."""
    unit = profile.transport.unit_id if args.unit is None else args.unit
    faults = FaultPlan(*args.faults) if args.faults else None
    simulator = Simulator({unit: simulated_device(profile, speed=args.speed)}, faults)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stop.set)
    try:
        for line in await _start_listeners(simulator, profile, unit, args):
            print(line)
        print("Ctrl-C to stop.", flush=True)
        await stop.wait()
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal_number)
        await simulator.stop()
    return EXIT_OK


async def _start_listeners(
    simulator: Simulator, profile: Profile, unit: int, args: argparse.Namespace
) -> list[str]:
    """Start TCP and/or RTU listeners; one line per listener saying where it is."""
    lines: list[str] = []
    described = f"{profile.name} ({profile.key}) as unit {unit}"
    if args.rtu is not None:
        given = {
            "baudrate": args.baudrate,
            "parity": args.parity,
            "stopbits": args.stopbits,
            "bytesize": args.bytesize,
        }
        line = replace(profile.transport, **{k: v for k, v in given.items() if v is not None})
        await simulator.start_rtu(
            args.rtu,
            baudrate=line.baudrate,
            parity=line.parity,
            stopbits=line.stopbits,
            bytesize=line.bytesize,
        )
        lines.append(
            f"simulating {described} on rtu://{args.rtu} "
            f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"
        )
    if args.tcp is not None or args.rtu is None:
        host, port = args.tcp or (DEFAULT_SIMULATOR_HOST, DEFAULT_SIMULATOR_PORT)
        port = await simulator.start_tcp(host, port)
        link = f"tcp://{host}:{port}" if ":" not in host else f"tcp://[{host}]:{port}"
        lines.append(f"simulating {described} on {link}")
        lines.append(f"read it with: powerbus read {link} --unit {unit}")
    return lines


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    """Count a noun: ``1 point``, ``2 points``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
