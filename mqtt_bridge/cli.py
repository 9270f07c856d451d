"""``powerbus-mqtt``: run the bridge, or check its configuration.

Exit codes: 0 after a clean stop (SIGTERM or Ctrl-C) or a valid ``--check-config``;
2 for an invalid configuration (every problem is printed with its key path).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from pathlib import Path
import signal
import sys

from .config import BridgeConfigError, load_settings
from .discovery import bridge_version
from .settings import BridgeSettings
from .supervisor import Bridge

EXIT_OK = 0
EXIT_CONFIG = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_LOGGER = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parse = argparse.ArgumentParser(
        prog="powerbus-mqtt",
        description="Publish Modbus power equipment to MQTT, with Home Assistant discovery.",
    )
    parse.add_argument(
        "--config", "-c", type=Path, required=True, help="the YAML configuration file"
    )
    parse.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration, print a summary and exit (2 when invalid)",
    )
    parse.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="override the configuration's log_level",
    )
    parse.add_argument("--version", action="version", version=f"%(prog)s {bridge_version()}")
    return parse


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except BridgeConfigError as err:
        print(f"{args.config}: the configuration is invalid:", file=sys.stderr)  # noqa: T201
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIG
    if args.check_config:
        print(_summary(settings))  # noqa: T201
        return EXIT_OK
    logging.basicConfig(level=(args.log_level or settings.log_level).upper(), format=LOG_FORMAT)
    _LOGGER.debug("Configuration: %s", json.dumps(settings.redacted()))
    try:
        return asyncio.run(_run(settings))
    except BridgeConfigError as err:
        for problem in err.problems:
            _LOGGER.error("Invalid configuration: %s", problem)
        return EXIT_CONFIG


async def _run(settings: BridgeSettings) -> int:
    """Run the bridge until SIGTERM or SIGINT."""
    bridge = Bridge(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, stop.set)
    _LOGGER.info("powerbus-mqtt %s starting (instance %s)", bridge_version(), settings.instance)
    await bridge.run(stop)
    return EXIT_OK


def _summary(settings: BridgeSettings) -> str:
    """Describe a valid configuration in a few lines."""
    base = f"{settings.mqtt.base_topic}/{settings.instance}"
    tls = " (TLS)" if settings.mqtt.tls else ""
    broker = f"{settings.mqtt.host}:{settings.mqtt.port}{tls}"
    lines = [
        f"configuration OK: instance {settings.instance}, broker {broker}, topics under {base}/"
    ]
    for link in settings.links:
        lines.append(f"  link {link.name}: {link.url}")
        lines.extend(
            f"    {device.id}: {device.name} ({device.profile.key}, unit {device.unit})"
            for device in link.devices
        )
    return "\n".join(lines)
