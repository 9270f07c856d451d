"""``powerbus simulate`` and ``powerbus demo``: serve simulated devices, and watch one."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
import contextlib
from dataclasses import replace
import signal
import sys
from typing import Any

from .. import Bus, DeviceSession, PollGroup, Profile, get_profile, parse_link
from ..simulator.behaviours import simulated_device
from ..simulator.faults import FaultPlan
from ..simulator.server import Simulator
from .arguments import host_port, positive_int, positive_seconds, simulator_fault, tcp_port, unit_id
from .output import EXIT_OK, serial_label
from .readings import DEFAULT_WATCH_SECONDS, ReadOptions, selected_keys, show_readings
from .resolve import PROFILE_HELP, named_profile

DEFAULT_SIMULATOR_HOST = "127.0.0.1"
DEFAULT_SIMULATOR_PORT = 5020
DEMO_PROFILE = "pro380"
DEMO_SPEED = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# ---------------------------------------------------------------------------
# powerbus simulate
# ---------------------------------------------------------------------------


def add_simulate_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
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
    simulate.add_argument("profile", metavar="PROFILE", help=PROFILE_HELP)
    simulate.add_argument(
        "--unit", type=unit_id, metavar="N", help="unit id to answer on (default: the profile's)"
    )
    simulate.add_argument(
        "--tcp",
        type=host_port,
        metavar="HOST:PORT",
        help=f"serve Modbus TCP here (port 0: any free port; default {DEFAULT_SIMULATOR_HOST}:{DEFAULT_SIMULATOR_PORT})",
    )
    simulate.add_argument(
        "--rtu",
        metavar="PATH",
        help="serve Modbus RTU on this serial port (e.g. one end of a socat pty pair)",
    )
    simulate.add_argument(
        "--baudrate", type=positive_int, help="RTU baud rate (default: the profile's)"
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
        type=positive_seconds,
        default=1.0,
        metavar="X",
        help="run simulated time X times faster (energy counters move faster)",
    )
    simulate.add_argument(
        "--fault",
        dest="faults",
        action="append",
        type=simulator_fault,
        default=[],
        metavar="FAULT",
        help="misbehave on every request: no_answer, exception=CODE, delay=SECONDS, corrupt or drop (repeatable)",
    )
    simulate.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    """Serve a simulated device until Ctrl-C or SIGTERM."""
    profile = named_profile(args.profile, "PROFILE")
    return asyncio.run(_run_simulator(profile, args))


async def _run_simulator(profile: Profile, args: argparse.Namespace) -> int:
    """Start the listeners, say where they are, and wait for a stop signal."""
    unit = profile.transport.unit_id if args.unit is None else args.unit
    faults = FaultPlan(*args.faults) if args.faults else None
    device = simulated_device(profile, speed=args.speed)
    async with Simulator({unit: device}, faults) as simulator:
        with _stop_signals() as stop:
            for line in await _start_listeners(simulator, profile, unit, args):
                print(line)
            print("Ctrl-C to stop.", flush=True)
            await stop.wait()
    return EXIT_OK


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """Yield an event that SIGINT and SIGTERM set, wherever the event loop can catch signals."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stop.set)
    try:
        yield stop
    finally:
        for signal_number in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal_number)


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
        lines.append(f"simulating {described} on rtu://{args.rtu} {serial_label(line)}")
    if args.tcp is not None or args.rtu is None:
        host, port = args.tcp or (DEFAULT_SIMULATOR_HOST, DEFAULT_SIMULATOR_PORT)
        port = await simulator.start_tcp(host, port)
        link = _tcp_link(host, port)
        lines.append(f"simulating {described} on {link}")
        lines.append(f"read it with: {_read_command(link, unit)}")
    return lines


def _tcp_link(host: str, port: int) -> str:
    """Build the link URL of a TCP listener, with an IPv6 host in brackets."""
    return f"tcp://{host}:{port}" if ":" not in host else f"tcp://[{host}]:{port}"


def _read_command(link: str, unit: int) -> str:
    """Spell out the command line that reads the simulated device."""
    return f"powerbus read {link} --unit {unit}"


# ---------------------------------------------------------------------------
# powerbus demo
# ---------------------------------------------------------------------------


def add_demo_command(commands: Any, verbose: argparse.ArgumentParser) -> None:
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
        type=tcp_port,
        default=0,
        help="TCP port of the simulated meter (default: any free port)",
    )
    demo.add_argument(
        "--watch",
        type=positive_seconds,
        default=DEFAULT_WATCH_SECONDS,
        metavar="SECONDS",
        help=f"seconds between reads (default {DEFAULT_WATCH_SECONDS:g})",
    )
    demo.add_argument(
        "--count", type=positive_int, metavar="N", help="stop after N reads (default: no limit)"
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    """Start a simulated PRO380 and watch it."""
    return asyncio.run(_run_demo(args.port, args.watch, args.count))


async def _run_demo(port: int, interval: float, repetitions: int | None) -> int:
    """Serve the simulated meter and read it in the same event loop."""
    profile = get_profile(DEMO_PROFILE)
    unit = profile.transport.unit_id
    device = simulated_device(profile, speed=DEMO_SPEED)
    async with Simulator({unit: device}) as simulator:
        port = await simulator.start_tcp(DEFAULT_SIMULATOR_HOST, port)
        link = _tcp_link(DEFAULT_SIMULATOR_HOST, port)
        bus = Bus(parse_link(link))
        try:
            options = ReadOptions(
                keys=selected_keys(profile, frozenset(PollGroup), None, include_disabled=False),
                interval=interval,
                repetitions=repetitions,
                as_json=False,
                title=(
                    f"{profile.name}, simulated at {link} (unit {unit}), time {DEMO_SPEED:g}x faster. "
                    f"Ctrl-C to stop.\nRead it from another terminal: {_read_command(link, unit)}"
                ),
            )
            return await show_readings(
                DeviceSession(bus, profile, unit, enabled=options.keys), options, sys.stdout
            )
        finally:
            bus.close()
