"""The link settings and profiles a ``powerbus`` command works with, from its arguments."""

from __future__ import annotations

from ..link import DEFAULT_SERIAL, LinkKind, LinkSettings
from ..models import Profile
from ..profile import builtin_profiles, with_limits


def with_timeout(profile: Profile, timeout: float | None) -> Profile:
    """Give the profile the answer timeout the user asked for, if any."""
    if timeout is None:
        return profile
    return with_limits(profile, timeout=timeout, timeout_per_register=0.0)


def shipped_profiles(timeout: float | None) -> list[Profile]:
    """Every shipped profile, each with the answer timeout the user asked for, if any."""
    return [with_timeout(profile, timeout) for profile in builtin_profiles().values()]


def serial_defaults(link: LinkSettings, profile: Profile | None) -> LinkSettings:
    """Fill an RTU link's serial settings from the profile wherever the URL names none."""
    if link.kind is not LinkKind.RTU:
        return link
    return link.resolve(profile.transport if profile is not None else DEFAULT_SERIAL)
