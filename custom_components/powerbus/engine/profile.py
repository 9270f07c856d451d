"""Load and validate device profiles (YAML data files) into frozen models.

Validation runs in two layers. The voluptuous schema (``profile_schema``) checks
the shape and the type of every field; the semantic pass (``profile_builder``)
then checks what the schema cannot see: unique keys, references between points
and commands, counts that match data types, and points that fall outside the
declared readable ranges. Either layer fails with a :class:`ProfileError` that
names the file, the point and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .errors import ProfileError
from .models import Profile
from .profile_builder import FamilyBuilder
from .profile_schema import validate_family

# Found relative to this package, whatever name it is imported under.
PROFILE_PACKAGE = f"{__package__}.profiles"
# libyaml's safe loader when PyYAML was built with it: about five times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_profile_file(path: Path | str) -> dict[str, Profile]:
    """Load one family file and return its variants as profiles, keyed by variant key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(str(path), f"cannot read the file: {err.strerror}") from err
    return parse_profile_text(text, path.name)


def parse_profile_text(text: str, file_name: str) -> dict[str, Profile]:
    """Validate the YAML text of a family file named ``file_name``."""
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as err:
        raise ProfileError(file_name, f"not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ProfileError(file_name, "the file must hold a mapping at the top level")
    return FamilyBuilder(file_name, validate_family(file_name, raw)).build()


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
    try:
        return builtin_profiles()[key]
    except KeyError:
        known = ", ".join(sorted(builtin_profiles()))
        raise ProfileError("shipped profiles", f"no profile '{key}' (known: {known})") from None


def with_limits(profile: Profile, **changes: Any) -> Profile:
    """Return a copy of ``profile`` with some bus limits changed (user overrides, tests)."""
    return replace(profile, limits=replace(profile.limits, **changes))
