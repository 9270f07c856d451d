"""A Liebert DS precision cooling unit behind an OpenComms-485 card: a static register image.

No behaviour of the unit is simulated; its values stay as stored. Like the UPS
cards of the same guide (``liebert.py``), the card answers only the rows its table
lists and refuses every other address with "illegal data address".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import Point, Table, Value
from .profile_device import ProfileDevice


@dataclass
class LiebertDsBehaviour:
    """Serves the listed rows of a Liebert DS as stored; ``speed`` changes nothing (nothing moves)."""

    speed: float = 1.0
    _ready: bool = False

    def advance(self, device: ProfileDevice, now: float) -> None:
        """On the first call, stop answering unlisted addresses."""
        if not self._ready:
            device.refuse_unlisted()
            self._ready = True

    def on_write(
        self, device: ProfileDevice, table: Table, address: int, values: Sequence[int]
    ) -> bool:
        """Leave every write to the image's rules (the profile writes nothing)."""
        return False

    def after_write(self, device: ProfileDevice, point: Point, value: Value | None) -> None:
        """Nothing follows a write."""
