"""A Liebert poll reads through small holes of the model's table, and falls back per device.

The simulated card refuses every row its model does not list, as the real card is assumed
to; a card that answers its holes is served as a plain image of the readable ranges. Both
over Modbus TCP on 127.0.0.1 (the request counts do not depend on the link).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from powerbus.bus import Bus
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Profile
from powerbus.poller import Poller, PollResult
from powerbus.profile import builtin_profiles, get_profile, with_limits
from powerbus.refusals import SplitMemory
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.device import SimulatedDevice
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

UNIT = 1
VARIANTS = [key for key, p in builtin_profiles().items() if p.family in ("liebert", "liebert_ds")]


def listed_runs(profile: Profile) -> int:
    """Count the runs of rows the model lists (addresses its points occupy), per table."""
    cells = {(p.table, a) for p in profile.points for a in range(p.address, p.end + 1)}
    return sum(1 for table, address in cells if (table, address - 1) not in cells)


@asynccontextmanager
async def card(device: SimulatedDevice) -> AsyncIterator[Bus]:
    """Serve ``device`` at unit 1 over TCP; give an open bus to it."""
    async with Simulator({UNIT: device}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        async with Bus(LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)) as bus:
            yield bus


async def counted_poll(poller: Poller) -> tuple[int, PollResult]:
    """Poll every group; return the requests it took and the result."""
    before = poller.stats.requests
    result = await poller.poll()
    return poller.stats.requests - before, result


def quick(key: str) -> Profile:
    """Load the shipped profile, without the pause the card needs between requests."""
    return with_limits(get_profile(key), min_spacing=0.0)


@pytest.mark.parametrize("key", VARIANTS)
async def test_a_card_that_refuses_holes_is_read_around_them_from_the_first_poll(key: str) -> None:
    """The learning poll reads every point; from the next one on, only the listed runs are read."""
    profile = quick(key)
    async with card(simulated_device(profile)) as bus:
        poller = Poller(bus, profile, UNIT)
        learning, first = await counted_poll(poller)
        polls = [await counted_poll(poller) for _ in range(3)]

    assert all(reading.value is not None for reading in first.readings.values())
    assert learning <= listed_runs(profile) + 5
    assert polls[-1][0] == listed_runs(profile)
    assert all(r.value is not None for _, result in polls for r in result.readings.values())


@pytest.mark.parametrize("key", VARIANTS)
async def test_a_card_that_answers_its_holes_takes_a_few_reads(key: str) -> None:
    """A GXT2 poll is 5 requests instead of 32 when the card answers the rows between points."""
    profile = quick(key)
    async with card(ProfileDevice(profile)) as bus:
        requests, result = await counted_poll(Poller(bus, profile, UNIT))

    assert result.available
    assert requests <= 7
    assert requests < listed_runs(profile)
    assert key != "liebert_gxt2" or requests == 5


async def test_what_a_device_taught_is_kept_across_a_restart() -> None:
    """Restored refusals plan the listed runs at once: no second learning poll after a restart."""
    profile = quick("liebert_gxt2")
    async with card(simulated_device(profile)) as bus:
        learnt = Poller(bus, profile, UNIT)
        await counted_poll(learnt)
        kept = learnt.splits.export()
        restored = SplitMemory()
        restored.restore(kept)
        requests, result = await counted_poll(Poller(bus, profile, UNIT, splits=restored))

    assert requests == listed_runs(profile) == 32
    assert all(reading.value is not None for reading in result.readings.values())
