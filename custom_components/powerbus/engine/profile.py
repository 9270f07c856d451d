"""Load and validate device profiles (YAML data files) into frozen models.

A file is read as UTF-8 text and checked in three steps: its YAML is read, with
any key given twice in one mapping noted (``profile_reader``); each of its fields
and items is checked against its schema (``profile_schema``); and the items that
pass are built into models while the checks the schema cannot make are made
(``profile_builder``): unique keys, references between points and commands,
counts that match data types, points outside the declared readable ranges and
points that overlap. Every problem of a file is collected, and the file fails
with one :class:`ProfileError` that lists them all, each naming the file (as the
caller gave it), the point (or command, or variant) and the field. Nothing else
leaves the loader, whatever the file holds.

Besides the shipped profiles, a user may keep profile files in a directory of
their own: :func:`load_profiles` reads it beside the shipped ones, file by file,
and :class:`ProfileLibrary` looks a key up in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ProblemLog, ProfileError
from .models import Profile
from .profile_builder import FamilyBuilder
from .profile_reader import read_yaml, validate_family

# Found relative to this package, whatever name it is imported under.
PROFILE_PACKAGE = f"{__package__}.profiles"
USER_PROFILE_SUFFIXES = (".yaml", ".yml")
"""The file names a user profile directory is read for."""


def load_profile_file(path: Path | str) -> dict[str, Profile]:
    """Load one family file and return its variants as profiles, keyed by variant key.

    Problems name the file as ``path`` gives it.
    """
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ProfileError(name, f"cannot read the file: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError(
            name,
            f"is not UTF-8 text (byte 0x{data[err.start]:02X} at offset {err.start})",
        ) from None
    return parse_profile_text(text, name)


def parse_profile_text(text: str, file_name: str) -> dict[str, Profile]:
    """Validate the YAML text of a family file named ``file_name``.

    Every problem found is reported in one ProfileError.
    """
    log = ProblemLog(file_name)
    raw = read_yaml(text, log)
    if not isinstance(raw, dict):
        log.add("the file must hold a mapping at the top level")
        log.raise_if_any()
    family = validate_family(raw, log)
    profiles = FamilyBuilder(family, log).build() if family is not None else {}
    log.raise_if_any()
    return profiles


@cache
def builtin_profiles() -> Mapping[str, Profile]:
    """Every profile shipped with the engine, keyed by variant key."""
    profiles: dict[str, Profile] = {}
    for entry in sorted(resources.files(PROFILE_PACKAGE).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for key, profile in parse_profile_text(entry.read_text("utf-8"), entry.name).items():
            if key in profiles:
                raise ProfileError(
                    entry.name,
                    f"variant key '{key}' is also defined in {profiles[key].source_file}",
                )
            profiles[key] = profile
    return MappingProxyType(profiles)


def get_profile(key: str) -> Profile:
    """Return the shipped profile with variant key ``key``."""
    return ProfileLibrary(profiles=builtin_profiles()).get(key)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProfileLibrary:
    """The profiles a front end offers: the shipped ones and the user's own.

    ``profiles`` holds every profile by variant key; ``user_keys`` says which come
    from the user's directory. ``errors`` holds, by file path, each user file that
    could not be loaded (its ProfileError lists every problem); a front end shows
    them and carries on with the rest.
    """

    profiles: Mapping[str, Profile]
    user_keys: frozenset[str] = frozenset()
    errors: Mapping[str, ProfileError] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str) -> Profile:
        """Return the profile with variant key ``key``; the error lists the known keys."""
        try:
            return self.profiles[key]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError("profiles", f"no profile '{key}' (known: {known})") from None


def load_profiles(directory: Path | str | None) -> ProfileLibrary:
    """Load the shipped profiles and every profile file of a user's ``directory``.

    Each ``*.yaml`` (or ``*.yml``) file of the directory is validated exactly as a
    shipped one, and a file with any problem is left out as a whole, its error kept
    under its path. A file may not reuse a variant key that a shipped profile or an
    earlier file (in name order) already has: to change a shipped profile, copy its
    file and give the variant a key of its own; keeping the ``family`` keeps the ids
    of its devices and entities. ``None`` gives the shipped profiles alone. This
    reads files: call it outside an event loop.
    """
    shipped = builtin_profiles()
    if directory is None:
        return ProfileLibrary(profiles=shipped)
    folder = os.fspath(directory)
    profiles = dict(shipped)
    user_keys: set[str] = set()
    errors: dict[str, ProfileError] = {}
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.name.endswith(USER_PROFILE_SUFFIXES) and not entry.is_dir()
        )
    except OSError as err:
        errors[folder] = ProfileError(folder, f"cannot read the directory: {err.strerror or err}")
        names = []
    for name in names:
        path = str(Path(folder) / name)
        try:
            loaded = load_profile_file(path)
            _check_new_keys(path, loaded, profiles)
        except ProfileError as err:
            errors[path] = err
            continue
        profiles.update(loaded)
        user_keys.update(loaded)
    return ProfileLibrary(
        profiles=MappingProxyType(profiles),
        user_keys=frozenset(user_keys),
        errors=MappingProxyType(errors),
    )


def _check_new_keys(path: str, loaded: Mapping[str, Profile], known: Mapping[str, Profile]) -> None:
    """Refuse a file whose variant keys another profile already has."""
    log = ProblemLog(path)
    for key in loaded:
        if key in known:
            log.add(
                f"the key is taken by {known[key].name} from {known[key].source_file}; "
                "give the variant a key of its own",
                variant=key,
                field="key",
            )
    log.raise_if_any()


def with_limits(profile: Profile, **changes: Any) -> Profile:
    """Return a copy of ``profile`` with some bus limits changed (user overrides, tests)."""
    return replace(profile, limits=replace(profile.limits, **changes))
