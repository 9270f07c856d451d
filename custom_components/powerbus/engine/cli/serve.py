"""``powerbus simulate`` and ``powerbus demo``: serve simulated devices, and watch one.

``simulate`` prints where it serves, the faults in force, and, for a UPS, how to
cut its mains: SIGUSR1 cuts them, SIGUSR2 brings them back. ``demo`` serves a
PRO380 and shows it live on one 80x24 screen (``demo_view``), redrawn in place.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
import contextlib
from dataclasses import replace
import os
import signal
import sys
import time
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from .. import Bus, DeviceSession, Profile, get_profile, parse_link
from ..simulator.apc import ApcUpsBehaviour
from ..simulator.behaviours import simulated_device
from ..simulator.faults import FaultPlan
from ..simulator.gateways import GatewayBehaviour
from ..simulator.liebert import LiebertUpsBehaviour
from ..simulator.profile_device import ProfileDevice
from ..simulator.server import Simulator
from .arguments import host_port, positive_int, positive_seconds, simulator_fault, tcp_port, unit_id
from .demo_view import WIDTH, DemoLayout, DemoScreen, demo_layout, render_demo
from .output import EXIT_OK, serial_label
from .readings import DEFAULT_WATCH_SECONDS
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
    """Start the listeners, say where they are and what is in force, and wait for a stop signal."""
    unit = profile.transport.unit_id if args.unit is None else args.unit
    device = simulated_device(profile, speed=args.speed)
    async with Simulator({unit: device}, FaultPlan(*args.faults)) as simulator:
        if isinstance(device.behaviour, GatewayBehaviour):
            device.behaviour.faults = simulator.faults  # the gateway goes quiet while it reboots
        with _stop_signals() as stop, _mains_switch(device) as mains:
            for line in await _start_listeners(simulator, profile, unit, args):
                print(line)
            for fault in simulator.faults.in_force():
                print(f"fault in force: {fault.describe()}")
            for line in mains:
                print(line)
            print("Ctrl-C to stop.", flush=True)
            await stop.wait()
    return EXIT_OK


@contextlib.contextmanager
def _mains_switch(device: ProfileDevice) -> Iterator[list[str]]:
    """Let SIGUSR1 cut a simulated UPS's mains and SIGUSR2 bring them back.

    Yields the banner lines that say so (none for a device that is no UPS). Each
    change is announced on stdout as it happens.
    """
    ups = device.behaviour
    if not isinstance(ups, LiebertUpsBehaviour | ApcUpsBehaviour) or not hasattr(signal, "SIGUSR1"):
        yield []  # no UPS, or a system without user signals
        return

    def switch(*, cut: bool) -> None:
        """Cut the mains or bring them back, and say so."""
        if cut:
            ups.fail_input()
            print("mains cut: the UPS runs on its battery", flush=True)
        else:
            ups.restore_input()
            print("mains back", flush=True)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: switch(cut=True))
    loop.add_signal_handler(signal.SIGUSR2, lambda: switch(cut=False))
    pid = os.getpid()
    try:
        yield [f"cut the UPS's mains: kill -USR1 {pid}; bring them back: kill -USR2 {pid}"]
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        loop.remove_signal_handler(signal.SIGUSR2)


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
            f"Start a simulated PRO380 meter on {DEFAULT_SIMULATOR_HOST} (time running {DEMO_SPEED:g}x "
            "faster) and read it, redrawing one 80x24 screen in place until Ctrl-C (elsewhere than "
            "on a terminal: one screen after another)."
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
    layout = demo_layout(profile)
    async with Simulator({unit: device}) as simulator:
        port = await simulator.start_tcp(DEFAULT_SIMULATOR_HOST, port)
        link = _tcp_link(DEFAULT_SIMULATOR_HOST, port)
        bus = Bus(parse_link(link))
        try:
            session = DeviceSession(bus, profile, unit, enabled=layout.keys)
            frames = _demo_frames(session, layout, link, interval, repetitions)
            if sys.stdout.isatty():
                await _redraw_in_place(frames)
            else:
                await _print_one_after_another(frames)
        finally:
            bus.close()
    return EXIT_OK


async def _demo_frames(
    session: DeviceSession,
    layout: DemoLayout,
    link: str,
    interval: float,
    repetitions: int | None,
) -> AsyncIterator[RenderableType]:
    """Read the meter every ``interval`` seconds and yield each frame, ``repetitions`` times."""
    done = 0
    while repetitions is None or done < repetitions:
        if done:
            await asyncio.sleep(interval)
        snapshot = await session.refresh()
        done += 1
        stats = session.stats
        status = (
            f"{stats.requests} requests, {stats.retries} retries, mean latency "
            f"{stats.latency_mean * 1000:.1f} ms; read at {time.strftime('%H:%M:%S')}"
        )
        if not snapshot.available:
            status += f"; no answer: {snapshot.error}"
        yield render_demo(
            DemoScreen(
                profile=session.profile,
                layout=layout,
                identity=snapshot.identity,
                readings=snapshot.readings,
                where=f"unit {session.unit} on {link}",
                speed=DEMO_SPEED,
                status=status,
                hint=f"Ctrl-C stops. Try it yourself: {_read_command(link, session.unit)}",
            )
        )


async def _redraw_in_place(frames: AsyncIterator[RenderableType]) -> None:
    """Draw each frame over the last one on the terminal."""
    console = Console()
    with Live(console=console, auto_refresh=False, transient=False) as live:
        async for frame in frames:
            live.update(frame, refresh=True)


async def _print_one_after_another(frames: AsyncIterator[RenderableType]) -> None:
    """Print each frame below the last one, a blank line between, for a pipe or a file."""
    console = Console(width=WIDTH, highlight=False)
    first = True
    async for frame in frames:
        if not first:
            console.print()
        console.print(frame)
        first = False
