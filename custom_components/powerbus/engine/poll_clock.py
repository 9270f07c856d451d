"""When each poll group of a device is due, and how often it was really polled.

A group (fast, normal, slow) is due once its interval has run out since it was
last polled, a little early rather than late (so that a caller ticking at exactly
the interval never misses it by a rounding error), and never sooner than the
profile's minimum scan interval after the previous poll began. The times of the
last polls give the achieved interval the scheduler reports against the one asked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
import math

from .models import PollGroup
from .snapshot import GroupTiming, PollIntervals

REPEATING = (PollGroup.FAST, PollGroup.NORMAL, PollGroup.SLOW)
"""The groups polled at an interval; ``once`` is read after a (re)connect instead."""
_DUE_SLACK_FRACTION = 0.05
_DUE_SLACK_MAX = 0.25
_TIMING_WINDOW = 8


class PollClock:
    """The due times of one device's poll groups, on a monotonic clock."""

    def __init__(self, intervals: PollIntervals, min_scan_interval: float) -> None:
        """Poll each group at its interval, and no poll sooner than ``min_scan_interval``."""
        self.intervals = intervals
        self._min_scan_interval = min_scan_interval
        self._last_start: float | None = None
        self._last: dict[PollGroup, float] = {}
        self._history: dict[PollGroup, deque[float]] = {
            group: deque(maxlen=_TIMING_WINDOW) for group in REPEATING
        }

    @property
    def not_before(self) -> float:
        """The earliest time of the next poll, after the minimum scan interval."""
        if self._last_start is None:
            return -math.inf
        return self._last_start + self._min_scan_interval

    @property
    def fastest(self) -> float:
        """The shortest interval of any repeating group."""
        return min(self.interval(group) for group in REPEATING)

    def interval(self, group: PollGroup) -> float:
        """Seconds between polls of a repeating group (infinite for ``once``)."""
        return self.intervals.of(group) or math.inf

    def next_due(self, groups: Iterable[PollGroup]) -> float:
        """Return when the first of ``groups`` falls due (at the earliest, ``not_before``)."""
        candidates = [self._last.get(g, -math.inf) + self.interval(g) for g in groups]
        return max(min(candidates, default=math.inf), self.not_before)

    def due(self, now: float, groups: Iterable[PollGroup]) -> frozenset[PollGroup]:
        """Return those of ``groups`` that are due at ``now``."""
        if now < self.not_before:
            return frozenset()
        return frozenset(
            group
            for group in groups
            if now + self._slack(group) >= self._last.get(group, -math.inf) + self.interval(group)
        )

    def record(self, groups: Iterable[PollGroup], now: float) -> None:
        """Note that a poll of ``groups`` began at ``now``."""
        self._last_start = now
        for group in groups:
            history = self._history.get(group)
            if history is not None and (not history or history[-1] != now):
                self._last[group] = now
                history.append(now)

    def timings(self, groups: Iterable[PollGroup]) -> tuple[GroupTiming, ...]:
        """Return the asked and achieved interval of each of ``groups``."""
        timings = []
        for group in groups:
            history = self._history[group]
            achieved = (history[-1] - history[0]) / (len(history) - 1) if len(history) > 1 else None
            timings.append(GroupTiming(group=group, asked=self.interval(group), achieved=achieved))
        return tuple(timings)

    def _slack(self, group: PollGroup) -> float:
        """How early a group counts as due."""
        return min(self.interval(group) * _DUE_SLACK_FRACTION, _DUE_SLACK_MAX)
