"""Keep energy counters honest: never backwards, never an impossible jump.

A ``total_increasing`` counter that goes down makes Home Assistant (and any
statistics built on the published value) start a new meter cycle, so one garbled
read would count the whole meter reading again as consumption. The guard therefore
refuses, for every ``total_increasing`` point:

- a value **lower** than the last one accepted, unless Powerbus itself just ran a
  command on the device (a counter reset, an energy transfer) or a user accepted the
  new reading (:meth:`CounterGuard.accept`);
- a value that **grew faster** than any meter in a home or small building can count:
  more than the point's unit per hour times :data:`MAX_RATE_PER_HOUR` (a megawatt for
  energy) over the time since the last accepted reading.

A refused reading is shown as an error, keeping the last accepted value and its time,
and is logged once per counter until a reading is accepted again.
"""

from __future__ import annotations

from collections.abc import Iterable
import logging
from types import MappingProxyType

from .models import Point, Reading, StateClass

_LOGGER = logging.getLogger(__name__)

MAX_RATE_PER_HOUR = MappingProxyType(
    {
        "Wh": 1_000_000.0,
        "kWh": 1_000.0,
        "MWh": 1.0,
        "varh": 1_000_000.0,
        "kvarh": 1_000.0,
        "VAh": 1_000_000.0,
        "kVAh": 1_000.0,
    }
)
"""The fastest a counter of each unit may grow: a megawatt, whatever the unit."""
_MIN_HOURS = 1 / 60
"""Readings a few seconds apart may still grow by a minute's worth (clocks jitter)."""
_NOISE = 1e-6
"""Relative float noise below which a lower reading is the same reading."""


class CounterGuard:
    """Judges each new reading of a device's ``total_increasing`` points."""

    def __init__(self, device: str) -> None:
        """Guard the counters of ``device`` (named in log lines)."""
        self._device = device
        self._allowed: set[str] = set()
        self._allow_all = False
        self._refusing: set[str] = set()

    def allow_reset(self) -> None:
        """Accept the next reading of every counter, lower or not (Powerbus ran a command)."""
        self._allow_all = True

    def accept(self, keys: Iterable[str]) -> None:
        """Accept the next reading of these counters whatever it is (a user said so)."""
        self._allowed.update(keys)

    @property
    def refusing(self) -> frozenset[str]:
        """The counters whose latest reading was refused."""
        return frozenset(self._refusing)

    def check(self, point: Point, accepted: Reading | None, new: Reading) -> str | None:
        """Return why ``new`` must not be shown, or None when it may.

        ``accepted`` is the point's last accepted reading (its value and time).
        """
        if point.state_class is not StateClass.TOTAL_INCREASING:
            return None
        if not isinstance(new.value, int | float) or isinstance(new.value, bool):
            return None
        previous = accepted.value if accepted is not None else None
        if not isinstance(previous, int | float) or isinstance(previous, bool):
            return None
        assert accepted is not None  # a number was accepted before
        seconds = new.timestamp - accepted.timestamp
        reason = self._judge(point, float(previous), float(new.value), seconds)
        if reason is not None and (self._allow_all or point.key in self._allowed):
            reason = None
        self._allowed.discard(point.key)
        if reason is None:
            if point.key in self._refusing:
                _LOGGER.info("%s: %s counts again from %s", self._device, point.key, new.value)
                self._refusing.discard(point.key)
            return None
        if point.key not in self._refusing:
            _LOGGER.warning("%s: %s: %s", self._device, point.key, reason)
            self._refusing.add(point.key)
        return reason

    def end_of_poll(self) -> None:
        """Forget the one-poll allowance a command gave."""
        self._allow_all = False

    @staticmethod
    def _judge(point: Point, previous: float, value: float, seconds: float) -> str | None:
        """Return why a counter reading is implausible, or None."""
        if value < previous - abs(previous) * _NOISE:
            return (
                f"went back from {previous:g} to {value:g} {point.unit or ''}; kept "
                f"{previous:g} (reset it through Powerbus, or accept the new reading)"
            ).replace("  ", " ")
        rate = MAX_RATE_PER_HOUR.get(point.unit or "")
        if rate is None:
            return None
        hours = max(seconds / 3600, _MIN_HOURS)
        if value - previous > rate * hours:
            return (
                f"jumped from {previous:g} to {value:g} {point.unit} in {seconds:.0f} s, "
                f"faster than {rate:g} {point.unit} per hour; kept {previous:g}"
            )
        return None
