"""Which behaviour brings a simulated device of each profile family to life.

A profile alone gives a simulator a register image that never changes. A
behaviour moves its values over time and reacts to writes the way the real
device does. Each device family registers a factory here under its family key
(the ``family`` of its profile file); a family without one is served as a
static image.
"""

from __future__ import annotations

from collections.abc import Callable
import time
from typing import Protocol

from ..models import Profile
from .apc import ApcUpsBehaviour
from .bcpm import BcpmBehaviour
from .gateways import GatewayBehaviour
from .liebert import LiebertUpsBehaviour
from .liebert_ds import LiebertDsBehaviour
from .powerlogic import PowerLogicBehaviour
from .pro380 import Pro380Behaviour
from .profile_device import Behaviour, ProfileDevice


class BehaviourFactory(Protocol):
    """Builds a fresh behaviour; ``speed`` > 1 makes simulated time run faster."""

    def __call__(self, *, speed: float) -> Behaviour:
        """Return a new behaviour running at ``speed``."""


BEHAVIOURS: dict[str, BehaviourFactory] = {
    "pro380": Pro380Behaviour,
    "powerlogic": PowerLogicBehaviour,
    "liebert": LiebertUpsBehaviour,
    "liebert_ds": LiebertDsBehaviour,
    "bcpm": BcpmBehaviour,
    "apc": ApcUpsBehaviour,
    "gateways": GatewayBehaviour,
}


def behaviour_for(profile: Profile, *, speed: float = 1.0) -> Behaviour | None:
    """Build a new behaviour for ``profile``'s family; None when the family has none."""
    factory = BEHAVIOURS.get(profile.family)
    return None if factory is None else factory(speed=speed)


def simulated_device(
    profile: Profile, *, speed: float = 1.0, clock: Callable[[], float] = time.monotonic
) -> ProfileDevice:
    """Build a device serving ``profile``, driven by its family's behaviour, timed by ``clock``."""
    return ProfileDevice(profile, behaviour_for(profile, speed=speed), clock=clock)
