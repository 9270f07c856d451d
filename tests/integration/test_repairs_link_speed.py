"""link_too_slow against a simulated PRO380 whose answers the simulator holds back.

The meter's real-time values are asked for every 0.2 s and each answer takes 0.5 s:
the scheduler reports the achieved interval falling short. The issue is raised, with
both figures, only once the shortfall has outlasted the scheduler's timing window: a
spell of as many slow polls as that window holds makes the scheduler report a
shortfall for a while (the spell and seven polls more) and never raises the issue.
Each test refreshes the link itself (a refresh polls what is due, and with answers
this slow every refresh polls), and clears the slowness by reading the meter at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.core import HomeAssistant
import pytest

from custom_components.powerbus.const import (
    CONF_FAST_INTERVAL,
    CONF_NORMAL_INTERVAL,
    CONF_SLOW_INTERVAL,
)
from custom_components.powerbus.repairs import (
    ISSUE_LINK_TOO_SLOW,
    SLOW_POLLS_BEFORE_ISSUE,
    TIMING_WINDOW,
    device_issue_id,
)
from powerbus.simulator.faults import Delay

from .watched import UNIT, Link, Refresh, assert_translated, shortfall_by_poll, watch_link

QUICKLY = {CONF_FAST_INTERVAL: 0.2, CONF_NORMAL_INTERVAL: 600.0, CONF_SLOW_INTERVAL: 3600.0}
SLOW_ANSWER = 0.5  # seconds the simulator holds back each real-time answer
FAST_BLOCK = range(0x5000, 0x5032)  # the PRO380's real-time values


@pytest.fixture
async def busy_meter(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Link]:
    """Serve a PRO380 meter whose real-time values are asked for every 0.2 s.

    The test refreshes the link itself: the coordinator's own timer is stopped, so
    that each refresh of the test is the only one and polls what is due.
    """
    async for link in watch_link(hass, "pro380", **QUICKLY):
        coordinator = link.entry.runtime_data
        coordinator.update_interval = None
        await coordinator.async_refresh()  # cancels the refresh the timer had planned
        yield link


async def test_a_line_too_slow_for_the_interval_raises_the_issue_and_it_clears(
    busy_meter: Link,
) -> None:
    """Answers held back twice the interval raise link_too_slow once the shortfall persists."""
    link = busy_meter
    link.recorded.site.simulator.faults.add(
        Delay(seconds=SLOW_ANSWER, times=None, unit_id=UNIT, addresses=FAST_BLOCK)
    )

    await link.poll_now()  # from here on every poll outlasts the interval: each refresh polls
    await link.refresh_until(lambda: link.issue(ISSUE_LINK_TOO_SLOW) is not None)

    first = next(i for i, r in enumerate(link.refreshes) if r.issue)
    link.refreshes[first + 1 :] = []
    assert link.slow_polls() == SLOW_POLLS_BEFORE_ISSUE
    issue = link.issue(ISSUE_LINK_TOO_SLOW)
    assert issue is not None
    assert_translated(issue)
    figures = issue.translation_placeholders
    assert (figures["group"], figures["asked"]) == ("fast", "0.2")
    assert float(figures["achieved"]) >= SLOW_ANSWER

    link.recorded.site.simulator.faults.clear()
    await link.poll_now_until(lambda: not link.shortfall())
    assert link.issue(ISSUE_LINK_TOO_SLOW) is None


async def test_a_slow_spell_as_long_as_the_window_raises_nothing(busy_meter: Link) -> None:
    """The scheduler reports a shortfall during and after eight slow polls; no issue is raised."""
    link = busy_meter
    spell = TIMING_WINDOW
    link.recorded.site.simulator.faults.add(
        Delay(seconds=SLOW_ANSWER, times=spell, unit_id=UNIT, addresses=FAST_BLOCK)
    )

    before = _fast_block_reads(link)
    await link.poll_now()
    await link.refresh_until(lambda: _fast_block_reads(link) - before >= spell)
    await link.poll_now_until(lambda: not link.shortfall())

    assert any(r.shortfall for r in link.refreshes)
    assert max(_runs(link.refreshes)) < SLOW_POLLS_BEFORE_ISSUE
    assert device_issue_id(ISSUE_LINK_TOO_SLOW, link.subentry_id) not in link.raised


def _fast_block_reads(link: Link) -> int:
    """Return how many reads of the real-time block reached the meter."""
    return sum(
        1
        for request in link.recorded.wire.requests
        if not request.write and request.address in FAST_BLOCK
    )


def _runs(refreshes: list[Refresh]) -> list[int]:
    """Return the lengths of the runs of polls with a shortfall."""
    runs = [0]
    for shortfall in shortfall_by_poll(refreshes):
        if shortfall:
            runs[-1] += 1
        else:
            runs.append(0)
    return runs
