"""The ``powerbus`` command line: its arguments, and how a command's outcome becomes an exit code."""

from __future__ import annotations

import argparse
from collections.abc import Callable
import logging
import os
import sys
from typing import Any

from ..errors import (
    ConfigError,
    DeviceExceptionError,
    LinkError,
    ModbusError,
    PowerbusError,
    ProfileError,
    RequestTimeoutError,
    WriteValidationError,
)
from .output import EXIT_CODES, EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, describe_device, fail
from .profiles import add_profiles_command
from .read import add_read_command
from .scan import add_scan_command
from .serve import add_demo_command, add_simulate_command
from .write import add_write_command

Handler = Callable[[argparse.Namespace], int]

# Each adds its sub-command, in the order `powerbus --help` lists them.
COMMANDS = (
    add_profiles_command,
    add_read_command,
    add_write_command,
    add_scan_command,
    add_simulate_command,
    add_demo_command,
)


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
        return fail(str(err), EXIT_REFUSED)
    except ModbusError as err:
        return fail(_describe_device_error(args, err), EXIT_FAILURE)
    except PowerbusError as err:
        return fail(str(err), EXIT_FAILURE)


def _configure_logging(verbosity: int) -> None:
    """Log the engine's debug messages with ``-v``, and pymodbus' own too with ``-vv``."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.DEBUG if verbosity else logging.WARNING)
    # The engine reports link trouble itself; pymodbus' log lines would only repeat it.
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if verbosity > 1 else logging.CRITICAL)


def _describe_device_error(args: argparse.Namespace, err: ModbusError) -> str:
    """Describe a device error, naming the link (and unit) that failed and how."""
    link = getattr(args, "link", None)
    if link is None:
        return str(err)
    unit = getattr(args, "unit", None)
    device = describe_device(unit, link) if unit is not None else link
    if isinstance(err, LinkError):
        return f"cannot reach {device}: {err}"
    if isinstance(err, RequestTimeoutError):
        return f"{device} does not answer: {err}"
    if isinstance(err, DeviceExceptionError):
        return f"{device} refused the request: {err}"
    return f"{device}: {err}"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every sub-command."""
    # -v is accepted after the command as well; there it must not reset a count given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    _add_verbose_argument(verbose, default=argparse.SUPPRESS)
    exit_codes = "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="powerbus",
        description="Read, write, scan and simulate Modbus power equipment (energy meters, UPS units).",
        epilog=(
            "LINK is tcp://HOST:PORT, rtu+tcp://HOST:PORT or "
            "'rtu:///dev/ttyUSB0?baudrate=9600&parity=E' (quote a link with & in it: the shell "
            f"would cut it there). Exit codes: {exit_codes.replace('`', '')}."
        ),
    )
    _add_verbose_argument(parser, default=0)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(commands, verbose)
    return parser


def _add_verbose_argument(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """-v/--verbose, counted: once for the engine's debug messages, twice for pymodbus' too."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log debug messages (twice: pymodbus' too)",
    )
