"""CPU time of the integration's coordinator per poll of a 10-device link: ``python bench/ha_coordinator_cpu.py``.

Runs in the Home Assistant environment (``.venvs/ha/bin/python bench/ha_coordinator_cpu.py``).
Ten simulated devices (five PRO380s, two PM800s, a CM4000, a Liebert GXT2 and an APC
Smart-UPS) share one Modbus TCP endpoint, served by a child process
(``ha_counting_server.py``) so that answering costs this process nothing. A Home
Assistant core (the test instance of pytest-homeassistant-custom-component, on real
time) sets up a Powerbus link to them with the entities each profile enables by
default, and the benchmark polls through the link's coordinator:

1. **Full polls**: every device reads every enabled point (the coordinator's refresh
   after each session was asked for a full poll), ``--polls`` times.
2. **Default intervals**: the coordinator's refresh every 2 s (its fast interval) on
   real time, ``--ticks`` times: mostly the fast groups, the normal groups every 10 s
   and the slow groups every 60 s, as a running installation polls.

Then the same, polls and ticks, through the engine's ``Scheduler`` alone (the same
devices and points, on a bus of its own, without Home Assistant): the engine's share.

For each poll: the CPU time of the event loop's thread (``time.thread_time``) and of
the whole process (``time.process_time``) from the start of the refresh until Home
Assistant has nothing left to do (entity states written, events handled), the wall
time, and the requests the server answered. Figures are medians over the polls.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import statistics

from ha_harness import (
    HOST,
    CountingServer,
    Request,
    Sample,
    counting_server,
    hold_timer,
    home_assistant,
    measure,
    milliseconds,
    poll_everything_next,
    run_description,
    run_end,
    set_up_powerbus,
)
from homeassistant.helpers import entity_registry as er

from custom_components.powerbus.const import CONF_UNIT
from custom_components.powerbus.coordinator import PowerbusCoordinator
from powerbus import Bus, DeviceSession, LinkKind, LinkSettings, Scheduler, get_profile

DEVICES = {
    1: "pro380",
    2: "pro380",
    3: "pro380",
    4: "pro380",
    5: "pro380",
    6: "pm800",
    7: "pm800",
    8: "cm4000",
    9: "liebert_gxt2",
    10: "apc_smart_ups",
}
FAST_INTERVAL = 2.0
"""The coordinator's default tick (the fast poll interval), in seconds."""


@dataclass(frozen=True, slots=True)
class Poll:
    """One measured poll and the requests it sent."""

    sample: Sample
    requests: list[Request]


@dataclass(frozen=True, slots=True)
class Run:
    """The measured polls of one side: full polls, then ticks at the default intervals."""

    full: list[Poll]
    ticks: list[Poll]


@dataclass(frozen=True, slots=True)
class LinkShape:
    """What the Home Assistant side polled: enabled points per unit, entities, poll order."""

    enabled: dict[int, frozenset[str]]
    entities: int
    order: list[int]


async def _coordinator_polls(
    server: CountingServer, polls: int, ticks: int
) -> tuple[LinkShape, Run]:
    """Poll the link through Home Assistant: full polls, then ticks at the default intervals."""
    async with home_assistant() as hass:
        entry, coordinator = await set_up_powerbus(hass, server, DEVICES)
        hold_timer(coordinator)
        await coordinator.async_refresh()
        await server.take()

        async def full_poll() -> None:
            poll_everything_next(coordinator)
            await coordinator.async_refresh()

        full = [await _poll(server, measure(full_poll, hass)) for _ in range(polls)]
        _check_available(coordinator)
        ticking = await _ticks(server, ticks, lambda: measure(coordinator.async_refresh, hass))
        _check_available(coordinator)
        registry = er.async_get(hass)
        entities = sum(
            1
            for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
            if not entity.disabled
        )
        shape = LinkShape(
            enabled={
                int(d.subentry.data[CONF_UNIT]): d.session.enabled
                for d in coordinator.devices.values()
            },
            entities=entities,
            order=[s.unit for s in coordinator.scheduler.sessions],
        )
        await hass.config_entries.async_unload(entry.entry_id)
    return shape, Run(full=full, ticks=ticking)


def _check_available(coordinator: PowerbusCoordinator) -> None:
    """Stop when a device did not answer: its figures would not be a poll's."""
    silent = [d.subentry.title for d in coordinator.devices.values() if not d.snapshot.available]
    if silent:
        raise SystemExit(f"devices not answering: {', '.join(silent)}")


async def _engine_polls(server: CountingServer, shape: LinkShape, polls: int, ticks: int) -> Run:
    """Poll the same points through the engine's scheduler alone, on a bus of its own."""
    settings = LinkSettings(kind=LinkKind.TCP, host=HOST, port=server.port)
    async with Bus(settings) as bus:
        sessions = [
            DeviceSession(
                bus,
                get_profile(DEVICES[unit]),
                unit,
                enabled=shape.enabled[unit],
                expected_serial=server.serials.get(unit),
            )
            for unit in shape.order
        ]
        scheduler = Scheduler(sessions)
        await scheduler.run_due()
        await server.take()

        async def full_poll() -> None:
            for session in sessions:
                session.request_refresh()
            await scheduler.run_due()

        full = [await _poll(server, measure(full_poll)) for _ in range(polls)]
        ticking = await _ticks(server, ticks, lambda: measure(scheduler.run_due))
        if not all(session.available for session in sessions):
            raise SystemExit("a device did not answer the engine's polls")
    return Run(full=full, ticks=ticking)


async def _ticks(
    server: CountingServer, ticks: int, measuring: Callable[[], Awaitable[Sample]]
) -> list[Poll]:
    """Measure a poll every fast interval on real time, as the coordinator's timer polls."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    measured = []
    for tick in range(1, ticks + 1):
        await asyncio.sleep(max(0.0, start + tick * FAST_INTERVAL - loop.time()))
        measured.append(await _poll(server, measuring()))
    return measured


async def _poll(server: CountingServer, measuring: Awaitable[Sample]) -> Poll:
    """Await a measurement and take the requests the server answered meanwhile."""
    sample = await measuring
    return Poll(sample=sample, requests=await server.take())


def _row(label: str, polls: list[Poll]) -> str:
    """Format one line of figures: requests, loop CPU, process CPU, wall time."""
    loop_median, loop_p90, loop_max = milliseconds(p.sample.loop_cpu for p in polls)
    process_median = milliseconds(p.sample.process_cpu for p in polls)[0]
    wall_median = milliseconds(p.sample.wall for p in polls)[0]
    requests = statistics.median(len(p.requests) for p in polls)
    return (
        f"  {label:<34} {len(polls):>5} {requests:>9.0f} "
        f"{loop_median:>9.1f} {loop_p90:>7.1f} {loop_max:>7.1f} {process_median:>12.1f} "
        f"{wall_median:>9.0f}"
    )


def _share(label: str, coordinator: list[Poll], engine: list[Poll], points: int) -> str:
    """Describe the loop CPU of one kind of poll, and the engine's part of it."""
    ours = statistics.median(p.sample.loop_cpu for p in coordinator)
    alone = statistics.median(p.sample.loop_cpu for p in engine)
    return (
        f"{label}: {ours * 1000:.1f} ms of loop CPU for {len(DEVICES)} devices "
        f"({ours * 1000 / len(DEVICES):.2f} ms per device, {ours * 1e6 / points:.0f} us per "
        f"enabled point); the engine alone {alone * 1000:.1f} ms, {alone / ours:.0%} of it"
    )


def _report(shape: LinkShape, home_assistant_run: Run, engine_run: Run) -> None:
    """Print the figures."""
    kinds = Counter(DEVICES.values())
    points = sum(len(keys) for keys in shape.enabled.values())
    print()
    print(
        f"link: {len(DEVICES)} devices on one Modbus TCP endpoint "
        f"({', '.join(f'{n} x {key}' for key, n in kinds.items())}); "
        f"{shape.entities} entities enabled (the profiles' defaults), {points} points polled"
    )
    print()
    print(
        f"  {'poll':<34} {'polls':>5} {'requests':>9} "
        f"{'loop CPU ms: median':>9} {'p90':>7} {'max':>7} {'process CPU ms':>12} {'wall ms':>9}"
    )
    every = f"every {FAST_INTERVAL:.0f} s"
    print(_row("full poll, Home Assistant", home_assistant_run.full))
    print(_row("full poll, engine only", engine_run.full))
    if home_assistant_run.ticks:
        print(_row(f"{every}, Home Assistant", home_assistant_run.ticks))
        print(_row(f"{every}, engine only", engine_run.ticks))
    measured = (*home_assistant_run.full, *home_assistant_run.ticks)
    measured += (*engine_run.full, *engine_run.ticks)
    refused = sum(r.refused for p in measured for r in p.requests)
    if refused:
        print(
            f"  ! {refused} requests refused during the measured polls (a device refusing a "
            "read over a hole: the engine tries a refused read again after a back-off)"
        )
    print()
    print(_share("full poll", home_assistant_run.full, engine_run.full, points))
    if home_assistant_run.ticks:
        ticks = home_assistant_run.ticks
        print(_share(f"{every} at default intervals", ticks, engine_run.ticks, points))
        seconds = len(ticks) * FAST_INTERVAL
        spent = sum(p.sample.loop_cpu for p in ticks)
        requests = sum(len(p.requests) for p in ticks)
        print(
            f"at default intervals: {spent * 1000 / len(ticks):.1f} ms of loop CPU per tick on "
            f"average, {spent / seconds:.2%} of one CPU; {requests / seconds:.1f} requests per second"
        )


async def _run(polls: int, ticks: int) -> None:
    """Measure and report."""
    async with counting_server(DEVICES) as server:
        shape, home_assistant_run = await _coordinator_polls(server, polls, ticks)
        engine_run = await _engine_polls(server, shape, polls, ticks)
    _report(shape, home_assistant_run, engine_run)


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=50, help="full polls of each kind (50)")
    parser.add_argument(
        "--ticks", type=int, default=30, help="refreshes every 2 s at default intervals (30)"
    )
    parser.add_argument(
        "--short", action="store_true", help="a quick run: 3 full polls of each kind, 2 ticks"
    )
    args = parser.parse_args()
    polls, ticks = (3, 2) if args.short else (args.polls, args.ticks)
    runs = f"{polls} full polls and {ticks} ticks of each kind, medians per poll"
    print(run_description(runs), flush=True)
    asyncio.run(_run(polls, ticks))
    print(run_end())


if __name__ == "__main__":
    main()
