"""What a device session reports: its identity, poll intervals and timing, and a snapshot.

A :class:`DeviceSnapshot` is what both front ends publish. Its rule for freshness:
a reading is worth showing only when its state is ``valid``. While a device is
unreachable every reading is ``unavailable``; it keeps its last value and the
timestamp of when that value was read, so nothing old ever passes as fresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from types import MappingProxyType

from .errors import ConfigError
from .models import PointState, PollGroup, Reading, Value

# A group counts as polled too slowly when it is polled this much later than asked.
_SHORTFALL_TOLERANCE = 1.25
_SHORTFALL_SLACK = 0.1


@dataclass(frozen=True, kw_only=True, slots=True)
class PollIntervals:
    """Seconds between polls of each group; ``once`` is read after every (re)connect."""

    fast: float = 2.0
    normal: float = 10.0
    slow: float = 60.0

    def __post_init__(self) -> None:
        """Refuse intervals that are not positive numbers, naming the group."""
        for group in (PollGroup.FAST, PollGroup.NORMAL, PollGroup.SLOW):
            seconds = getattr(self, group.value)
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not math.isfinite(seconds)
                or seconds <= 0
            ):
                raise ConfigError(
                    f"intervals.{group.value}",
                    f"must be a positive number of seconds, not {seconds!r}",
                )

    def of(self, group: PollGroup) -> float | None:
        """Seconds between polls of ``group``; None for ``once``."""
        return None if group is PollGroup.ONCE else float(getattr(self, group.value))


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceIdentity:
    """Who a device says it is, read after every (re)connect."""

    manufacturer: str
    model: str
    serial: str | None
    firmware: str | None
    profile: str


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupTiming:
    """How often a poll group was asked to be read, and how often it was."""

    group: PollGroup
    asked: float
    achieved: float | None
    """Mean seconds between the last polls of the group; None before two polls."""

    @property
    def shortfall(self) -> bool:
        """Whether the group is read noticeably less often than asked (the line is too slow)."""
        return (
            self.achieved is not None
            and self.achieved > self.asked * _SHORTFALL_TOLERANCE + _SHORTFALL_SLACK
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceSnapshot:
    """The latest readings of a device, and whether it answers."""

    profile: str
    unit: int
    uid: str | None
    """The device uid (see ``uid.py``); None until a serial number was read where one exists."""
    available: bool
    identity: DeviceIdentity | None
    readings: Mapping[str, Reading]
    polled_at: float | None
    """Wall-clock time of the last poll, answered or not."""
    last_success: float | None
    """Wall-clock time of the last poll the device answered."""
    error: str | None = None
    """Why the device is unavailable, when it is."""
    identity_mismatch: bool = False
    """A device other than the one configured answers at this unit id."""
    stats: Mapping[str, float | int | None] = field(default_factory=dict)
    """Bus statistics: requests, errors, timeouts, latency (ms, mean), last_success (POSIX
    time), interval_asked and interval_achieved (s, of the fastest group in use)."""

    def value(self, key: str) -> Value | None:
        """Return the value of ``key`` if it is valid now, else None."""
        reading = self.readings.get(key)
        return reading.value if reading is not None and reading.state is PointState.VALID else None

    def values(self) -> Mapping[str, Value | None]:
        """Every point's value where it is valid now, None where it is not."""
        return MappingProxyType({key: self.value(key) for key in self.readings})
