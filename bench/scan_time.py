"""How long ``powerbus scan`` takes over a whole line of unit ids, most of them absent.

Run from the repository root, in an environment where the project is installed:

    python bench/scan_time.py [--runs 3] [--baud 9600]

Five simulated devices (a PRO380 at unit 1, a PM800 at 17, a Liebert GXT2 at 42 and
both halves of a BCPM board at 100 and 101) are served on one line; every other unit
id is silent. ``powerbus scan`` runs as a separate process, as a user runs it, over
Modbus TCP on 127.0.0.1 (unit ids 1-247 and the gateway's 254 and 255, its default)
and over RTU on a socat pty pair at ``--baud`` (1-247). Printed per run: the wall time
of the whole command, the time the scan itself reports, and what it found.

A pty moves bytes without baud-rate timing, so the RTU figure is the probe timeouts,
the bus's frame silences and unit-switch pauses, and the software; on a real RS-485
line each answered probe adds its few milliseconds of line time.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import statistics
import sys
import time

from poll_cost import pty_framing, socat_pair

from powerbus.models import Table
from powerbus.profile import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

BOARD = 100
BOARD_ADDRESS_REGISTER = 60000  # the BCPM's DIP-switch address (register number)


def line_devices() -> dict[int, ProfileDevice]:
    """Build the five simulated devices of the line, by unit id."""
    devices = {
        1: simulated_device(get_profile("pro380")),
        17: simulated_device(get_profile("pm800")),
        42: simulated_device(get_profile("liebert_gxt2")),
        BOARD: simulated_device(get_profile("bcpm_channels_1_42")),
        BOARD + 1: simulated_device(get_profile("bcpm_channels_43_84")),
    }
    for half in (BOARD, BOARD + 1):
        devices[half].set_registers(Table.HOLDING_REGISTER, BOARD_ADDRESS_REGISTER - 1, [BOARD])
    return devices


async def run_scan(link: str, units: Sequence[str]) -> tuple[float, dict[str, object]]:
    """Run ``powerbus scan LINK --json`` in a child process; return its wall time and document."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "powerbus",
        "scan",
        link,
        *units,
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"powerbus scan {link} exited with {child.returncode}")
    document: dict[str, object] = json.loads(out)
    return wall, document


def found(document: dict[str, object]) -> str:
    """Say what a scan found: unit and profile (or candidates) of each device."""
    devices = document["devices"]
    assert isinstance(devices, list)
    return ", ".join(
        f"{d['unit']} {d['profile'] if len(d['candidates']) == 1 else '|'.join(d['candidates'])}"
        for d in devices
    )


async def measure(link: str, units: Sequence[str], runs: int, label: str) -> None:
    """Scan ``runs`` times and print each run and the median."""
    walls = []
    for run in range(1, runs + 1):
        wall, document = await run_scan(link, units)
        walls.append(wall)
        print(
            f"  {label} run {run}: {wall:.1f} s wall, scan {document['seconds']:.1f} s, "
            f"{document['probed']} unit ids; found {found(document)}"
        )
    print(f"  {label}: median {statistics.median(walls):.1f} s, worst {max(walls):.1f} s")


async def run(args: argparse.Namespace) -> None:
    """Serve the line over TCP, then over RTU on a pty, and time the scans."""
    print("== powerbus scan over a whole line: 5 devices, every other unit id silent ==")
    async with Simulator(line_devices()) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        await measure(f"tcp://127.0.0.1:{port}", [], args.runs, "Modbus TCP, 127.0.0.1")
    with socat_pair() as (server_end, client_end):
        parity, stopbits = pty_framing(server_end)
        async with Simulator(line_devices()) as simulator:
            await simulator.start_rtu(
                server_end, baudrate=args.baud, parity=parity, stopbits=stopbits, bytesize=8
            )
            link = f"rtu://{client_end}?baudrate={args.baud}&parity={parity}&stopbits={stopbits}"
            label = f"RTU, socat pty, {args.baud} 8{parity}{stopbits}"
            await measure(link, ["--units", "1-247"], args.runs, label)


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="scans per link (default 3)")
    parser.add_argument("--baud", type=int, default=9600, help="RTU baud rate (default 9600)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
