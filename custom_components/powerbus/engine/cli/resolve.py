"""The link settings and profiles a ``powerbus`` command works with, from its arguments.

Wherever a command takes a profile, it takes a shipped profile's key (``pro380``)
or a profile file of the user's (``./my_meter.yaml``): a name is a path when it
holds a ``/``, ends in ``.yaml`` or ``.yml``, or names a file that exists. A file
holding several variants needs the one meant after a colon
(``./meters.yaml:my_meter``). A file is validated as a shipped one is.
"""

from __future__ import annotations

from pathlib import Path
import re

from ..errors import ConfigError
from ..link import DEFAULT_SERIAL, LinkKind, LinkSettings
from ..models import Profile
from ..profile import builtin_profiles, get_profile, load_profile_file, with_limits

_PROFILE_KEY = re.compile(r"[a-z][a-z0-9_]*")
PROFILE_HELP = "profile key (see `powerbus profiles`) or profile file (PATH, or PATH:VARIANT)"


def named_profile(name: str, argument: str = "--profile") -> Profile:
    """Return the profile ``name`` gives: a shipped profile's key, or a profile file.

    ``argument`` names the command-line argument in errors.
    """
    path, variant = name, None
    head, colon, tail = name.rpartition(":")
    if colon and head and _PROFILE_KEY.fullmatch(tail) and not Path(name).exists():
        path, variant = head, tail
    if not _is_path(path):
        return get_profile(name)
    profiles = load_profile_file(path)
    if variant is None and len(profiles) == 1:
        return next(iter(profiles.values()))
    if variant in profiles:
        return profiles[variant]
    held = ", ".join(profiles)
    if variant is None:
        raise ConfigError(
            argument, f"{path} holds several variants ({held}); name one as {path}:VARIANT"
        )
    raise ConfigError(argument, f"{path} has no variant '{variant}' (it holds: {held})")


def _is_path(name: str) -> bool:
    """Whether a profile argument names a file rather than a profile key."""
    return "/" in name or name.endswith((".yaml", ".yml")) or Path(name).is_file()


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
