"""``powerbus write``: check a profile command completely, then run it on a device."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from .. import (
    Bus,
    Command,
    CommandFailedError,
    ConfigError,
    ConfirmationRequiredError,
    DeviceSession,
    LinkSettings,
    ParamKind,
    ParamSpec,
    Profile,
    WriteValidationError,
    parse_link,
)
from .arguments import add_device_arguments, comma_list
from .output import EXIT_FAILURE, EXIT_OK, describe_device, fail, format_value, plural
from .resolve import PROFILE_HELP, named_profile, serial_defaults

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def add_write_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
    """``powerbus write LINK --unit N --profile KEY --command KEY ...``."""
    write = commands.add_parser(
        "write",
        parents=[verbose],
        help="run a profile command on a device",
        description="Run a command of the device's profile. Dangerous commands need --confirm.",
    )
    add_device_arguments(write)
    write.add_argument("--profile", required=True, metavar="PROFILE", help=PROFILE_HELP)
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


def _write(args: argparse.Namespace) -> int:
    """Validate a command completely, then run it on the device."""
    profile = named_profile(args.profile)
    settings = serial_defaults(parse_link(args.link), profile)
    return asyncio.run(_run_write(settings, profile, args))


async def _run_write(settings: LinkSettings, profile: Profile, args: argparse.Namespace) -> int:
    """Check the command (nothing is sent when it is refused), run it, report the read-back."""
    bus = Bus(settings)
    session = DeviceSession(bus, profile, args.unit)
    try:
        command = _command(profile, args.command)
        params = _command_params(command, args.params)
        session.check_command(command.key, params, confirm=True)
        if command.dangerous and not args.confirm:
            why = f" {command.description}" if command.description else ""
            raise ConfirmationRequiredError(
                f"'{command.key}' ({command.name}) is dangerous and was not sent.{why} "
                "Add --confirm to run it."
            )
        try:
            result = await session.run_command(command.key, params, confirm=args.confirm)
        except CommandFailedError as err:
            return fail(f"{describe_device(args.unit, settings.describe())}: {err}", EXIT_FAILURE)
    finally:
        bus.close()
    readback = ", ".join(
        f"{label} = {format_value(profile.point(label), value) if profile.has_point(label) else value}"
        for label, value in result.readback.items()
    )
    writes = plural(result.writes, "write")
    print(
        f"{command.key} on unit {args.unit}: {result.outcome} ({writes}"
        f"{'; read back ' + readback if readback else ''}) in {result.duration:.2f} s"
    )
    return EXIT_OK


def _command(profile: Profile, key: str) -> Command:
    """Return the profile's command ``key``; the error lists the known ones."""
    try:
        return profile.command(key)
    except KeyError:
        known = ", ".join(c.key for c in profile.commands) or "none"
        raise WriteValidationError(
            f"{profile.key} has no command '{key}' (known: {known})"
        ) from None


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
    if spec.kind is ParamKind.BOOL:
        word = text.strip().lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise WriteValidationError(f"{where} must be true or false, not '{text}'")
        return word in _TRUE_WORDS
    if spec.kind is ParamKind.CHOICE:
        return int(text) if text.isdigit() and text not in spec.choices else text
    if spec.kind is ParamKind.INT_LIST:
        return [_number(where, item) for item in comma_list(text)]
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
