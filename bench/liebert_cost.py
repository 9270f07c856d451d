"""What a Liebert poll costs: reading only the listed runs, or reading through holes and learning.

Run from the repository root, in an environment where the project is installed:

    python bench/liebert_cost.py [--polls 5] [--baud 9600]

For every Liebert variant, a simulated card is polled over RTU on a socat pty pair.
The simulated card answers only the rows its model's table lists and refuses any
read that touches another address, as the real card is assumed to: the worst case
for reading through holes. Two profiles are compared:

* before: every run of listed rows declared readable on its own, ``max_gap`` 0 (no
  read crosses a hole), as the profiles were;
* after: the shipped profile, which reads through holes of up to ``max_gap`` and
  falls back for a device that refuses them (``engine/refusals.py``).

For each: the requests of the first poll (the learning poll, for "after"), of the
second, and of the last of ``--polls`` polls (the steady state), and their line
time at ``--baud``, modelled (``wiretime.py``) from the transactions and bytes the
bus counted, refusals included. Then the steady poll of a simulated card that
answers its holes (checked against the plan's model), and the poll that tries the
holes again once the learned refusals' back-off has run out. Polls are sent without the
profile's 50 ms spacing to save time; the modelled line time includes it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from poll_cost import pty_framing, socat_pair
from wiretime import Traffic, plan_traffic, traffic_time

from powerbus.bus import Bus
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import AddressRange, Profile, Table
from powerbus.planner import plan_reads
from powerbus.poller import Poller
from powerbus.profile import builtin_profiles, with_limits
from powerbus.refusals import DEFAULT_BACKOFF, SplitMemory
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

UNIT = 1
LIEBERT_FAMILIES = ("liebert", "liebert_ds")


class _Clock:
    """Monotonic seconds for the learned refusals, moved by hand to run out a back-off."""

    def __init__(self) -> None:
        """Start at 0."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the time."""
        return self.now


@dataclass(frozen=True, kw_only=True, slots=True)
class PollCosts:
    """Transactions and bytes of each poll in a row of polls, and of the poll after the back-off."""

    polls: tuple[Traffic, ...]
    reprobe: Traffic


def listed_runs(profile: Profile) -> tuple[AddressRange, ...]:
    """Return the runs of addresses the profile's points occupy: the rows the model lists."""
    runs: list[AddressRange] = []
    cells = sorted(
        {(p.table, a) for p in profile.points for a in range(p.address, p.end + 1)},
        key=lambda cell: (list(Table).index(cell[0]), cell[1]),
    )
    for table, address in cells:
        last = runs[-1] if runs else None
        if last is not None and last.table is table and last.end == address - 1:
            runs[-1] = replace(last, end=address)
        else:
            runs.append(AddressRange(table=table, start=address, end=address))
    return tuple(runs)


def before(profile: Profile) -> Profile:
    """Return the profile as it was: each listed run readable on its own, no read through holes."""
    return with_limits(profile, readable=listed_runs(profile), max_gap=0)


async def poll_costs(bus: Bus, profile: Profile, polls: int) -> PollCosts:
    """Poll ``polls`` times, then once more after the learned refusals' back-off ran out."""
    clock = _Clock()
    poller = Poller(
        bus, with_limits(profile, min_spacing=0.0), UNIT, splits=SplitMemory(clock=clock)
    )
    stats = bus.stats(UNIT)

    async def one_poll() -> Traffic:
        start = Traffic(stats.requests, stats.bytes_sent, stats.bytes_received)
        result = await poller.poll()
        assert all(r.value is not None for r in result.readings.values()), profile.key
        return Traffic(
            stats.requests - start.transactions,
            stats.bytes_sent - start.sent,
            stats.bytes_received - start.received,
        )

    costs = [await one_poll() for _ in range(polls)]
    clock.now += DEFAULT_BACKOFF + 1
    return PollCosts(polls=tuple(costs), reprobe=await one_poll())


async def measure(
    profiles: Sequence[Profile], polls: int, baud: int, *, answering_holes: bool = False
) -> dict[str, PollCosts]:
    """Poll a simulated card of each profile over RTU on a pty pair; keyed by profile key.

    With ``answering_holes`` the card answers every address of the profile's readable
    ranges (a static image) instead of refusing the rows its model does not list.
    """
    measured: dict[str, PollCosts] = {}
    with socat_pair() as (server_end, client_end):
        parity, stopbits = pty_framing(server_end)
        for profile in profiles:
            card = ProfileDevice(profile) if answering_holes else simulated_device(profile)
            async with Simulator({UNIT: card}) as simulator:
                await simulator.start_rtu(
                    server_end, baudrate=baud, parity=parity, stopbits=stopbits, bytesize=8
                )
                link = LinkSettings(
                    kind=LinkKind.RTU,
                    serial_port=client_end,
                    baudrate=baud,
                    parity=parity,
                    stopbits=stopbits,
                    bytesize=8,
                )
                async with Bus(link) as bus:
                    measured[profile.key] = await poll_costs(bus, profile, polls)
    return measured


def cell(traffic: Traffic, profile: Profile, baud: int) -> str:
    """Format the requests and line time of some traffic, as ``32 / 2320.7 ms``."""
    seconds = traffic_time(traffic, baud, spacing=profile.limits.min_spacing)
    return f"{traffic.transactions} / {seconds * 1000:.1f} ms"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain table, first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        print("  " + "  ".join(cells).rstrip())


async def run(args: argparse.Namespace) -> None:
    """Measure every Liebert variant before and after, and print the table."""
    shipped = [p for p in builtin_profiles().values() if p.family in LIEBERT_FAMILIES]
    old = await measure([before(p) for p in shipped], args.polls, args.baud)
    new = await measure(shipped, args.polls, args.baud)
    open_card = await measure(shipped, args.polls, args.baud, answering_holes=True)
    print(
        f"== Liebert polls, full (every group), RTU at {args.baud} Bd: requests / modelled line "
        f"time; steady = poll {args.polls} =="
    )
    rows = []
    for profile in shipped:
        was, now = old[profile.key], new[profile.key]
        modelled = plan_traffic(plan_reads(profile.points, profile.limits).blocks)
        answering = open_card[profile.key].polls[-1]
        rows.append(
            [
                profile.key,
                cell(was.polls[0], profile, args.baud),
                cell(was.polls[-1], profile, args.baud),
                cell(now.polls[0], profile, args.baud),
                cell(now.polls[1], profile, args.baud),
                cell(now.polls[-1], profile, args.baud),
                cell(answering, profile, args.baud)
                + (
                    ""
                    if answering == modelled
                    else " (model: " + cell(modelled, profile, args.baud) + ")"
                ),
                cell(now.reprobe, profile, args.baud),
            ]
        )
    print_table(
        [
            "variant",
            "before: first",
            "before: steady",
            "after: learning",
            "after: second",
            "after: steady",
            "card answering holes",
            "after a back-off",
        ],
        rows,
    )
    print(
        "  before: listed runs only, max_gap 0. after: the shipped profile; the simulated card "
        "refuses every unlisted address, so the poller learns to read around the holes. "
        "'card answering holes': the steady poll of a card that answers every address of the "
        "readable ranges (it equals the modelled plan unless a model figure follows). "
        f"'after a back-off': the poll {DEFAULT_BACKOFF:g} s after learning, when the refused "
        "reads are tried again (then after twice as long each time, up to an hour)."
    )


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--polls", type=int, default=5, help="polls per variant (default 5)")
    parser.add_argument("--baud", type=int, default=9600, help="baud rate (default 9600)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
