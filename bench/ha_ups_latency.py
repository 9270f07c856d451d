"""How fast a UPS going on battery reaches Home Assistant: ``python bench/ha_ups_latency.py``.

Runs in the Home Assistant environment (``.venvs/ha/bin/python bench/ha_ups_latency.py``).
A simulated Liebert GXT2 is served over Modbus TCP on 127.0.0.1; a Home Assistant core
(the test instance of pytest-homeassistant-custom-component, on real time) sets up a
Powerbus link to it with the default intervals. Then, ``--runs`` times: wait a random
moment (0 to 3 s, so that the cut falls anywhere in the poll cycle), cut the UPS's
mains, and time until the ``ups_on_battery`` binary sensor turns on; bring the mains
back and wait for it to turn off. The figures are the cut-to-state latencies, next to
the fast interval and the time one poll of the UPS takes on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import platform
import random
import statistics
import sys
import time
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# Home Assistant's loader must find this repository's custom_components package first.
sys.path.insert(0, str(REPO_ROOT))

from ha_harness import home_assistant  # noqa: E402
from homeassistant.const import STATE_ON  # noqa: E402
from homeassistant.core import Event, EventStateChangedData, HomeAssistant  # noqa: E402
from homeassistant.helpers import entity_registry as er  # noqa: E402
from homeassistant.helpers.event import async_track_state_change_event  # noqa: E402
from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: E402

import custom_components.powerbus  # noqa: E402, F401
from custom_components.powerbus.const import (  # noqa: E402
    CONF_LINK_TYPE,
    CONF_PROFILE,
    CONF_SERIAL_NUMBER,
    CONF_UNIT,
    DOMAIN,
    SUBENTRY_DEVICE,
    LinkType,
)
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT  # noqa: E402
from powerbus import Scheduler, entity_unique_id, get_profile  # noqa: E402
from powerbus.simulator.behaviours import simulated_device  # noqa: E402
from powerbus.simulator.clock import ManualClock  # noqa: E402
from powerbus.simulator.liebert import LiebertUpsBehaviour  # noqa: E402
from powerbus.simulator.server import Simulator  # noqa: E402

PROFILE = "liebert_gxt2"
UNIT = 1
SPREAD = 3.0
"""The random wait before each cut, in seconds: more than one fast interval."""
TIMEOUT = 30.0


async def _wait_for(hass: HomeAssistant, entity_id: str, wanted: bool) -> float:
    """Wait until the binary sensor is on (or off); return the monotonic time it changed."""
    changed: asyncio.Future[float] = hass.loop.create_future()

    def _on_change(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is not None and (state.state == STATE_ON) is wanted and not changed.done():
            changed.set_result(time.monotonic())

    unsubscribe = async_track_state_change_event(hass, entity_id, _on_change)
    try:
        return await asyncio.wait_for(changed, TIMEOUT)
    finally:
        unsubscribe()


def _time_polls(scheduler: Scheduler) -> list[float]:
    """Record how long each round of the link's scheduler takes that polled something."""
    durations: list[float] = []
    run_due = scheduler.run_due

    async def timed(listener: Any = None) -> dict[Any, Any]:
        started = time.monotonic()
        polled = await run_due(listener)
        if polled:
            durations.append(time.monotonic() - started)
        return polled

    scheduler.run_due = timed  # type: ignore[method-assign]
    return durations


async def _measure(runs: int, seed: int) -> tuple[list[float], float]:
    """Return the cut-to-state latencies and the mean duration of one UPS poll."""
    randomness = random.Random(seed)
    device = simulated_device(get_profile(PROFILE), clock=ManualClock())
    behaviour = device.behaviour
    assert isinstance(behaviour, LiebertUpsBehaviour)
    simulator = Simulator({UNIT: device})
    port = await simulator.start_tcp("127.0.0.1", 0)
    serial = device.get_value(device.profile.serial_point or "")
    uid = f"{device.profile.family}_{serial}"
    latencies: list[float] = []
    polls: list[float] = []
    try:
        async with home_assistant() as hass:
            entry = MockConfigEntry(
                domain=DOMAIN,
                data={CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: port},
                subentries_data=[
                    {
                        "data": {
                            CONF_PROFILE: PROFILE,
                            CONF_UNIT: UNIT,
                            CONF_SERIAL_NUMBER: serial,
                        },
                        "subentry_type": SUBENTRY_DEVICE,
                        "title": "UPS",
                        "unique_id": uid,
                    }
                ],
            )
            entry.add_to_hass(hass)
            if not await hass.config_entries.async_setup(entry.entry_id):
                raise SystemExit(f"the link did not set up: {entry.reason}")
            polls = _time_polls(entry.runtime_data.scheduler)
            entity_id = er.async_get(hass).async_get_entity_id(
                "binary_sensor", DOMAIN, entity_unique_id(uid, "ups_on_battery")
            )
            assert entity_id is not None
            for run in range(runs):
                await asyncio.sleep(randomness.uniform(0, SPREAD))
                on_battery = asyncio.ensure_future(_wait_for(hass, entity_id, wanted=True))
                await asyncio.sleep(0)
                cut = time.monotonic()
                behaviour.fail_input()
                latencies.append(await on_battery - cut)
                print(f"run {run + 1}/{runs}: {latencies[-1] * 1000:.0f} ms", flush=True)
                back = asyncio.ensure_future(_wait_for(hass, entity_id, wanted=False))
                await asyncio.sleep(0)
                behaviour.restore_input()
                await back
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop(force=True)
    finally:
        await simulator.stop()
    return latencies, statistics.median(polls) if polls else 0.0


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="mains cuts to time (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random waits")
    args = parser.parse_args()
    latencies, poll = asyncio.run(_measure(args.runs, args.seed))
    ordered = sorted(latencies)
    print()
    print(f"Python {platform.python_version()}, Home Assistant environment, {PROFILE} on TCP")
    print(f"fast interval 2.0 s (default); one fast poll of the UPS: about {poll * 1000:.0f} ms")
    print(
        f"cut to on-battery state, {len(ordered)} runs: "
        f"min {ordered[0] * 1000:.0f} ms, median {statistics.median(ordered) * 1000:.0f} ms, "
        f"90th percentile {ordered[int(0.9 * (len(ordered) - 1))] * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
