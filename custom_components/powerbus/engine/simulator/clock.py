"""A clock for simulated devices that moves only when it is told to.

Simulated devices read the time from the clock they are given (``time.monotonic``
unless a test or a demonstration says otherwise). Given a :class:`ManualClock`, a
device's values, timers and sessions stand still until the clock is advanced, so
a test can let an hour pass in an instant and know exactly how much time passed.
"""

from __future__ import annotations

from ..errors import ConfigError


class ManualClock:
    """Monotonic seconds that move only by :meth:`advance`; call it to read the time."""

    def __init__(self, start: float = 1000.0) -> None:
        """Start at ``start`` seconds (any value: only differences matter)."""
        self.now = start

    def __call__(self) -> float:
        """Return the current time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass; time never runs backwards."""
        if seconds < 0:
            raise ConfigError("seconds", "a clock cannot go back")
        self.now += seconds
