"""What a poll costs on the wire: our read plans, one request per point, and the floor.

Run from the repository root, in an environment where the project is installed:

    python bench/poll_cost.py [--runs 20] [--baud 9600]

Modelled (``bench/wiretime.py``), at the baud rate given, 8E1 (11-bit characters):
the transactions, bytes and RTU line time of a full poll (every poll group) of
every shipped profile, for three ways of reading the same points:

* ours: the blocks ``plan_reads`` plans;
* one per point: one request per point, as Home Assistant core's modbus
  sensors and mbmd read;
* floor: only the registers the points occupy, in the fewest reads the
  readable ranges and the read size allow; no poller can do better.

Every transaction pays the frame silences and the profile's ``min_spacing``,
whichever the bus keeps; the device's turnaround is taken as 0 (no profile
states one), which flatters every column alike.

Measured: a PRO380 simulator is polled for real over Modbus TCP on 127.0.0.1
and over RTU on a socat pty pair; the bus statistics must show exactly the
transactions and bytes the model predicts. A pty has no baud-rate timing, so
the measured wall time is the cost of the software and the bus's own pauses,
not wire time.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
import shutil
import statistics
import subprocess
import tempfile
import termios
import time

from run_info import load_footer, run_header
import serial
from wiretime import (
    Framing,
    Traffic,
    count_requests_one_per_point,
    frame_silence,
    gap_items,
    lower_bound_traffic,
    one_per_point_traffic,
    plan_traffic,
    shared_bus_time,
    traffic_time,
)

from powerbus.bus import Bus
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Profile
from powerbus.planner import plan_reads
from powerbus.poller import Poller
from powerbus.profile import builtin_profiles, get_profile, with_limits
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.server import Simulator

GOAL = 0.05  # our plan may take at most 5 % longer than the floor
UNIT = 1
TABLE_SIZE = 0x10000
PTY_WAIT = 5.0

# Devices of the realistic bus: a label and the profile keys that may stand for it.
BUS_DEVICES = (
    ("PRO380", ("pro380",)),
    ("PM800", ("pm800",)),
    ("Liebert GXT2", ("gxt2", "liebert_gxt2")),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Costs:
    """The modelled costs of one full poll of one profile, three ways."""

    profile: Profile
    ours: Traffic
    ours_tcp: Traffic
    one_per_point: Traffic
    one_per_point_tcp: Traffic
    floor: Traffic
    floor_tcp: Traffic
    gap_registers: int
    unplannable: int

    def seconds(self, traffic: Traffic, baud: int) -> float:
        """RTU line time of ``traffic`` for this profile's device at ``baud``."""
        return traffic_time(traffic, baud, spacing=self.profile.limits.min_spacing)


def costs_of(profile: Profile) -> Costs:
    """Model a full poll of ``profile``: every point, every group."""
    plan = plan_reads(profile.points, profile.limits)
    assert count_requests_one_per_point(profile.points) == len(profile.points)
    return Costs(
        profile=profile,
        ours=plan_traffic(plan.blocks),
        ours_tcp=plan_traffic(plan.blocks, Framing.TCP),
        one_per_point=one_per_point_traffic(profile.points),
        one_per_point_tcp=one_per_point_traffic(profile.points, Framing.TCP),
        floor=lower_bound_traffic(profile.points, profile.limits),
        floor_tcp=lower_bound_traffic(profile.points, profile.limits, Framing.TCP),
        gap_registers=gap_items(plan.blocks),
        unplannable=len(plan.unplannable),
    )


def verdict(ours: float, floor: float) -> str:
    """How far above the floor our time is, and whether that meets the goal."""
    if not floor:
        return "nothing to read"
    excess = ours / floor - 1
    return f"{excess * 100:+.1f} % vs floor  {'PASS' if excess <= GOAL else 'FAIL'}"


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table cell."""
    return f"{seconds * 1000:.1f} ms"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows under a header, columns aligned (first column left, the rest right)."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  " + "  ".join(cells))


def print_full_poll(costs: Costs, baud: int) -> None:
    """Print the detailed comparison for one profile."""
    profile = costs.profile
    print(
        f"\n== Full poll of {profile.name} ({profile.key}): {len(profile.points)} points, "
        f"all groups, {baud} Bd 8E1, min_spacing {profile.limits.min_spacing * 1000:g} ms =="
    )
    rows = []
    for label, rtu, tcp in (
        ("ours (plan_reads)", costs.ours, costs.ours_tcp),
        ("one request per point", costs.one_per_point, costs.one_per_point_tcp),
        ("floor (lower bound)", costs.floor, costs.floor_tcp),
    ):
        rows.append(
            [
                label,
                str(rtu.transactions),
                f"{rtu.sent}/{rtu.received}",
                str(rtu.total),
                str(tcp.total),
                ms(costs.seconds(rtu, baud)),
            ]
        )
    print_table(["", "transactions", "RTU out/in", "RTU bytes", "TCP bytes", "RTU wire time"], rows)
    ours, one, floor = (
        costs.seconds(t, baud) for t in (costs.ours, costs.one_per_point, costs.floor)
    )
    print(
        f"  registers read that no point needs: {costs.gap_registers}; "
        f"points no read may fetch: {costs.unplannable}"
    )
    print(
        f"  one per point / ours: {costs.one_per_point.transactions / costs.ours.transactions:.1f}x "
        f"transactions, {one / ours:.2f}x wire time"
    )
    print(f"  ours / floor: {ours / floor:.4f}  ({verdict(ours, floor)}, goal: within {GOAL:.0%})")


def print_every_profile(all_costs: Sequence[Costs], baud: int) -> None:
    """One line per shipped profile."""
    print(f"\n== Every shipped profile, full poll, {baud} Bd 8E1 (RTU wire time; transactions) ==")
    rows = []
    for costs in all_costs:
        ours, one, floor = (
            costs.seconds(t, baud) for t in (costs.ours, costs.one_per_point, costs.floor)
        )
        rows.append(
            [
                costs.profile.key,
                str(len(costs.profile.points)),
                f"{ms(ours)} ({costs.ours.transactions})",
                f"{ms(one)} ({costs.one_per_point.transactions})",
                f"{ms(floor)} ({costs.floor.transactions})",
                str(costs.gap_registers),
                verdict(ours, floor),
            ]
        )
    print_table(
        ["profile", "points", "ours", "one per point", "floor", "gap regs", "ours vs floor"], rows
    )
    for costs in all_costs:
        if costs.seconds(costs.ours, baud) > (1 + GOAL) * costs.seconds(costs.floor, baud):
            print(f"  {costs.profile.key}: {explain_excess(costs, baud)}")


def explain_excess(costs: Costs, baud: int) -> str:
    """Say why a plan stays above the floor."""
    profile = costs.profile
    limits = profile.limits
    unbounded = replace(limits, max_registers=TABLE_SIZE, max_bits=TABLE_SIZE)
    runs = len(plan_reads(profile.points, unbounded).blocks)
    reasons = []
    if runs > costs.floor.transactions:
        reasons.append(
            f"the points lie in {runs} runs that range borders or holes wider than max_gap "
            f"({limits.max_gap}) keep apart, where the floor needs {reads(costs.floor.transactions)}"
        )
    if costs.ours.transactions > max(runs, costs.floor.transactions):
        reasons.append(
            "a point is never split over two reads, so reads end short of the read size "
            f"({reads(costs.ours.transactions)})"
        )
    if costs.gap_registers:
        reasons.append(f"{costs.gap_registers} registers are read through holes of up to max_gap")
    verdict_on_gap = smaller_gap_verdict(costs, baud)
    if verdict_on_gap is not None:
        reasons.append(verdict_on_gap)
    return "; ".join(reasons)


def smaller_gap_verdict(costs: Costs, baud: int) -> str | None:
    """Say whether planning with a smaller ``max_gap`` would take less wire time.

    Reading through a hole costs bytes; cutting the read there costs another
    transaction. The planner minimises transactions, so this checks that doing
    so also gave the least time. None when ``max_gap`` is already 0.
    """
    profile = costs.profile
    if profile.limits.max_gap == 0:
        return None

    def seconds_with_gap(gap: int) -> float:
        """Wire time of the plan made with ``max_gap`` = ``gap``."""
        plan = plan_reads(profile.points, replace(profile.limits, max_gap=gap))
        return costs.seconds(plan_traffic(plan.blocks), baud)

    ours = costs.seconds(costs.ours, baud)
    best_time, best_gap = min((seconds_with_gap(gap), gap) for gap in range(profile.limits.max_gap))
    if best_time < ours:
        return f"max_gap {best_gap} would plan {ms(ours - best_time)} faster"
    return "no smaller max_gap plans a faster poll"


def reads(count: int) -> str:
    """Count reads in words: "1 read", "3 reads"."""
    return f"{count} read{'' if count == 1 else 's'}"


def find_profile(keys: Sequence[str]) -> Profile | None:
    """Return the first shipped profile with one of ``keys``, or None."""
    profiles = builtin_profiles()
    return next((profiles[key] for key in keys if key in profiles), None)


def print_shared_bus(baud: int, unit_switch: float) -> None:
    """Print a realistic RS-485 line: several devices polled in turn."""
    print(f"\n== One RS-485 line at {baud} Bd 8E1, devices polled in turn, full polls ==")
    rows = []
    times: dict[str, list[float]] = {"ours": [], "one": [], "floor": []}
    for label, keys in BUS_DEVICES:
        profile = find_profile(keys)
        if profile is None:
            print(f"  {label}: no shipped profile under {', '.join(keys)}; left out")
            continue
        costs = costs_of(profile)
        ours, one, floor = (
            costs.seconds(t, baud) for t in (costs.ours, costs.one_per_point, costs.floor)
        )
        times["ours"].append(ours)
        times["one"].append(one)
        times["floor"].append(floor)
        rows.append([f"{label} ({profile.key})", ms(ours), ms(one), ms(floor)])
    if not rows:
        return
    cycle = {name: shared_bus_time(values, unit_switch) for name, values in times.items()}
    rows.append(
        [
            f"cycle (+ {unit_switch * 1000:g} ms per unit switch)",
            ms(cycle["ours"]),
            ms(cycle["one"]),
            ms(cycle["floor"]),
        ]
    )
    print_table(["device", "ours", "one per point", "floor"], rows)
    print(
        f"  cycle: ours / floor {cycle['ours'] / cycle['floor']:.4f} "
        f"({verdict(cycle['ours'], cycle['floor'])}); one per point / ours "
        f"{cycle['one'] / cycle['ours']:.2f}x"
    )


@contextmanager
def socat_pair() -> Iterator[tuple[str, str]]:
    """Make a virtual serial line with socat: (server end, client end); socat is stopped by PID."""
    if shutil.which("socat") is None:
        raise SystemExit("socat is needed for the RTU run (apt-get install socat)")
    with tempfile.TemporaryDirectory() as folder:
        server_end, client_end = Path(folder) / "server-end", Path(folder) / "client-end"
        socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={server_end}", f"pty,raw,echo=0,link={client_end}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + PTY_WAIT
            while not (server_end.exists() and client_end.exists()):
                if socat.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("socat made no pty pair")
                time.sleep(0.02)
            yield str(server_end), str(client_end)
        finally:
            socat.terminate()
            socat.wait(timeout=PTY_WAIT)


@dataclass(frozen=True, kw_only=True, slots=True)
class Measured:
    """What the bus statistics saw over some full polls, and how long each poll took."""

    link: str
    framing: Framing
    spacing: float
    traffic: Traffic
    wall: list[float]
    valid_points: int


async def poll_for_real(
    bus: Bus, profile: Profile, runs: int, link: str, framing: Framing
) -> Measured:
    """Run ``runs`` full polls of the simulated meter and collect the statistics."""
    poller = Poller(bus, profile, UNIT)
    stats = bus.stats(UNIT)
    before = Traffic(stats.requests, stats.bytes_sent, stats.bytes_received)
    wall: list[float] = []
    valid = 0
    for _ in range(runs):
        started = time.perf_counter()
        result = await poller.poll()
        wall.append(time.perf_counter() - started)
        valid = sum(1 for reading in result.readings.values() if reading.value is not None)
    return Measured(
        link=link,
        framing=framing,
        spacing=profile.limits.min_spacing,
        traffic=Traffic(
            stats.requests - before.transactions,
            stats.bytes_sent - before.sent,
            stats.bytes_received - before.received,
        ),
        wall=wall,
        valid_points=valid,
    )


def pty_framing(path: str) -> tuple[str, int]:
    """Parity and stop bits the pty takes: 8E1, or else 8N2 (also 11 bits a character).

    Some kernels refuse to set the termios attributes of a pseudo-terminal again
    once parity is on, and a serial port is set twice on opening. A pty passes
    bytes without timing them, so the framing changes nothing that is measured.
    """
    try:
        line = serial.Serial(path, baudrate=9600, parity="E", stopbits=1)
        try:
            line.timeout = 0
        finally:
            line.close()
    except termios.error:
        return "N", 2
    return "E", 1


async def measure(profile: Profile, runs: int, baud: int) -> list[Measured]:
    """Poll a simulated meter over TCP and over RTU on a pty pair, with and without spacing.

    The profile's ``min_spacing`` makes the bus wait after every answer; the
    runs without it show what the software itself costs.
    """
    unspaced = with_limits(profile, min_spacing=0.0)
    measured: list[Measured] = []
    with socat_pair() as (server_end, client_end):
        parity, stopbits = pty_framing(server_end)
        async with Simulator({UNIT: simulated_device(profile)}) as simulator:
            port = await simulator.start_tcp("127.0.0.1", 0)
            tcp = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
            async with Bus(tcp) as bus:
                measured += [
                    await poll_for_real(bus, variant, runs, "Modbus TCP, 127.0.0.1", Framing.TCP)
                    for variant in (profile, unspaced)
                ]
            await simulator.start_rtu(
                server_end, baudrate=baud, parity=parity, stopbits=stopbits, bytesize=8
            )
            rtu = LinkSettings(
                kind=LinkKind.RTU,
                serial_port=client_end,
                baudrate=baud,
                parity=parity,
                stopbits=stopbits,
                bytesize=8,
            )
            link = f"RTU, socat pty, {baud} 8{parity}{stopbits}"
            async with Bus(rtu) as bus:
                measured += [
                    await poll_for_real(bus, variant, runs, link, Framing.RTU)
                    for variant in (profile, unspaced)
                ]
    return measured


def print_measured(costs: Costs, measured: Sequence[Measured], runs: int, baud: int) -> None:
    """Measured traffic against the model, and the wall time per poll."""
    print(
        f"\n== Real polls of the PRO380 simulator ({costs.profile.key}): "
        f"{runs} full polls per row, bus statistics against the model =="
    )
    rows = []
    for result in measured:
        model = costs.ours_tcp if result.framing is Framing.TCP else costs.ours
        expected = Traffic(model.transactions * runs, model.sent * runs, model.received * runs)
        rows.append(
            [
                result.link,
                f"{result.spacing * 1000:g} ms",
                f"{result.traffic.transactions / runs:g} / {model.transactions}",
                f"{result.traffic.sent / runs:g}/{result.traffic.received / runs:g} / {model.sent}/{model.received}",
                "MATCH" if result.traffic == expected else "MISMATCH",
                f"{statistics.median(result.wall) * 1000:.1f} ms",
                f"{min(result.wall) * 1000:.1f} ms",
                f"{result.valid_points}/{len(costs.profile.points)}",
            ]
        )
    print_table(
        [
            "link",
            "min_spacing",
            "transactions/poll (measured / model)",
            "bytes out/in per poll (measured / model)",
            "",
            "wall median",
            "wall min",
            "valid points",
        ],
        rows,
    )
    print(
        "  Wall time is software and the bus's pauses, not wire time: a pty and 127.0.0.1 pass bytes "
        "without baud-rate timing. The bus waits min_spacing after every answer (on RTU at least the "
        f"frame silence, {frame_silence(baud) * 1000:.2f} ms at {baud} Bd). The modelled RTU wire time "
        f"of this poll at {baud} Bd is {ms(costs.seconds(costs.ours, baud))}."
    )


async def run(args: argparse.Namespace) -> None:
    """Print the modelled costs of every shipped profile and the measured PRO380 polls."""
    runs = "model only" if args.model_only else f"{args.runs} full polls per row of real polls"
    print(run_header(runs))
    pro380 = costs_of(get_profile("pro380"))
    print_full_poll(pro380, args.baud)
    print_every_profile([costs_of(profile) for profile in builtin_profiles().values()], args.baud)
    # The pause the bus keeps when the unit id changes on an RTU line.
    unit_switch = Bus(LinkSettings(kind=LinkKind.RTU, serial_port="/dev/null")).unit_switch_delay
    print_shared_bus(args.baud, unit_switch)
    if not args.model_only:
        measured = await measure(pro380.profile, args.runs, args.baud)
        print_measured(pro380, measured, args.runs, args.baud)
    print()
    print(load_footer())


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20, help="real polls per link (default 20)")
    parser.add_argument(
        "--baud", type=int, default=9600, help="baud rate of the model and the pty (default 9600)"
    )
    parser.add_argument("--model-only", action="store_true", help="skip the real polls")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
