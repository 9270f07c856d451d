"""A link with one simulated device whose repair issues are watched, for the repairs tests.

:class:`Link` notes every issue raised and cleared, and what each refresh of the link
left (the device's last poll, whether the scheduler reports a shortfall, whether
link_too_slow is raised), so a test can tell how the issues followed the polls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from custom_components.powerbus.const import DOMAIN
from custom_components.powerbus.repairs import ISSUE_LINK_TOO_SLOW, device_issue_id

from .recorded import Bench, serve_bench, subentry_id

STRINGS = Path(__file__).parents[2] / "custom_components" / "powerbus" / "strings.json"
UNIT = 1


@dataclass(frozen=True)
class Refresh:
    """What one refresh of the link left: the device's last poll, the scheduler's word, the issue."""

    polled_at: float | None
    shortfall: bool
    issue: bool


@dataclass
class Link(Bench):
    """One simulated device (unit 1) on a link set up in Home Assistant, and its issues."""

    raised: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    refreshes: list[Refresh] = field(default_factory=list)

    @property
    def subentry_id(self) -> str:
        """The subentry of the device."""
        return subentry_id(self.entry, UNIT)

    def issue(self, kind: str) -> ir.IssueEntry | None:
        """Return the device's issue ``kind``, if it is raised."""
        return ir.async_get(self.hass).async_get_issue(
            DOMAIN, device_issue_id(kind, self.subentry_id)
        )

    def shortfall(self) -> bool:
        """Whether the scheduler reports the device's groups read less often than asked."""
        return bool(self.entry.runtime_data.scheduler.shortfalls())

    def polled_at(self) -> float | None:
        """When the device was last polled."""
        device = next(iter(self.entry.runtime_data.devices.values()))
        polled: float | None = device.snapshot.polled_at
        return polled

    def voltage(self) -> str:
        """Return the state of the device's L1 voltage sensor."""
        uid = next(iter(self.entry.subentries.values())).unique_id
        registry = er.async_get(self.hass)
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{uid}_voltage_l1")
        assert entity_id is not None
        state = self.hass.states.get(entity_id)
        assert state is not None
        return state.state

    @callback
    def note(self, event: Event[ir.EventIssueRegistryUpdatedData]) -> None:
        """Note an issue raised or cleared."""
        if event.data["action"] == "create":
            self.raised.append(event.data["issue_id"])
        elif event.data["action"] == "remove":
            self.cleared.append(event.data["issue_id"])

    @callback
    def record(self) -> None:
        """Note what a refresh of the link left."""
        self.refreshes.append(
            Refresh(
                polled_at=self.polled_at(),
                shortfall=self.shortfall(),
                issue=self.issue(ISSUE_LINK_TOO_SLOW) is not None,
            )
        )

    def slow_polls(self) -> int:
        """Return how many polls in a row, up to the last, the scheduler reported a shortfall for."""
        count = 0
        for shortfall in reversed(shortfall_by_poll(self.refreshes)):
            if not shortfall:
                break
            count += 1
        return count

    async def refresh_until(self, done: Callable[[], bool], most: int = 40) -> None:
        """Refresh the link again and again until ``done`` holds (at most ``most`` times).

        A refresh polls what is due: while the simulator holds answers back longer than
        the interval, every refresh polls the real-time values once.
        """
        for _ in range(most):
            if done():
                return
            await self.entry.runtime_data.async_refresh()
            await self.hass.async_block_till_done()
        assert done()

    async def poll_now_until(self, done: Callable[[], bool], most: int = 10) -> None:
        """Read the device at once, again and again, until ``done`` holds."""
        for _ in range(most):
            if done():
                return
            await self.poll_now()
        assert done()


def shortfall_by_poll(refreshes: list[Refresh]) -> list[bool]:
    """Return, poll by poll, whether the scheduler reported a shortfall."""
    return list({refresh.polled_at: refresh.shortfall for refresh in refreshes}.values())


async def watch_link(hass: HomeAssistant, profile: str, **options: Any) -> AsyncIterator[Link]:
    """Serve the device, set the link up, note its issues and refreshes, and take it all down."""
    async for bench in serve_bench(hass, {UNIT: profile}, **options):
        link = Link(hass=hass, recorded=bench.recorded, entry=bench.entry)

        stop_noting = hass.bus.async_listen(ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED, link.note)
        stop_recording = link.entry.runtime_data.async_add_listener(link.record)
        yield link
        stop_recording()
        stop_noting()


def assert_translated(issue: ir.IssueEntry) -> None:
    """Check that the issue has a title and a text whose placeholders it all fills."""
    strings = json.loads(STRINGS.read_text("utf-8"))["issues"][issue.translation_key]
    texts = [strings["title"], strings.get("description", "")]
    texts += [step["description"] for step in strings.get("fix_flow", {}).get("step", {}).values()]
    wanted = {name for text in texts for name in re.findall(r"{(\w+)}", text)}
    assert wanted <= set(issue.translation_placeholders or {})
