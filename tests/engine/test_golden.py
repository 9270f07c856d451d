"""The engine decodes the golden register words of every device family to the documented values.

``tests/golden/<family>.yaml`` holds, per profile variant, the words a device sends for a known
state, laid out as the vendor's documents define them and computed by hand, never by the engine,
with the value and unit each point must then show. Feeding those words through the engine's point
decoding (with the exponent of the golden scale register where a point has one) must give exactly
that value, from exactly the register the document names: a wrong word order, scale, sentinel,
option, address or unit in a profile or a codec shows up here, with no simulator involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from powerbus.codecs import decode_point, exponent_from_register
from powerbus.models import DataType, Point, Profile, Table, Value
from powerbus.profile import builtin_profiles, get_profile

pytestmark = pytest.mark.hardware_free

GOLDEN_DIR = Path(__file__).parent.parent / "golden"
# A register number as a document writes it, turned into a PDU address by the file's own rule.
_MODICON_TABLES = {
    0: Table.COIL,
    1: Table.DISCRETE_INPUT,
    3: Table.INPUT_REGISTER,
    4: Table.HOLDING_REGISTER,
}
_MODICON_SPAN = 10_000


@cache
def _golden(family: str) -> dict[str, Any]:
    """Load one golden file."""
    loaded: dict[str, Any] = yaml.safe_load((GOLDEN_DIR / f"{family}.yaml").read_text("utf-8"))
    return loaded


def _families() -> list[str]:
    """Name every family that has a golden file."""
    return sorted(path.stem for path in GOLDEN_DIR.glob("*.yaml"))


def _entries() -> Iterator[Any]:
    """Yield one pytest parameter per golden entry, named family-variant-key-index."""
    for family in _families():
        for variant in _golden(family)["variants"]:
            for index, entry in enumerate(variant["points"]):
                yield pytest.param(
                    family,
                    variant["variant"],
                    entry,
                    id=f"{variant['variant']}-{entry['key']}-{index}",
                )


def _location(golden: dict[str, Any], entry: dict[str, Any]) -> tuple[Table, int]:
    """Return the table and PDU address of a golden register, by the file's numbering."""
    register: int = entry["register"]
    numbering = golden["numbering"]
    if numbering == "modicon":
        return _MODICON_TABLES[register // _MODICON_SPAN], register % _MODICON_SPAN - 1
    table = Table(entry.get("table", golden.get("table")))
    return table, register - 1 if numbering == "register_number" else register


def _same(decoded: Value | None, expected: Value | None) -> bool:
    """Whether the decoded value is the golden one: same kind, numbers equal to 1e-9."""
    if expected is None or isinstance(expected, bool | str):
        return decoded == expected and type(decoded) is type(expected)
    if isinstance(decoded, bool) or not isinstance(decoded, int | float):
        return False
    return math.isclose(decoded, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("family", "variant", "entry"), list(_entries()))
def test_golden_words_decode_to_the_documented_value(
    family: str, variant: str, entry: dict[str, Any]
) -> None:
    """The point lies where the document says, has its unit, and decodes the words to its value."""
    golden = _golden(family)
    profile = get_profile(variant)
    point = profile.point(entry["key"])
    exponent = None
    if "scale" in entry:
        scale = entry["scale"]
        scale_point = profile.point(scale["key"])
        assert point.scale_point == scale["key"]
        assert (scale_point.table, scale_point.address) == _location(golden, scale)
        exponent = exponent_from_register(scale["word"])

    decoded = decode_point(point, entry["words"], exponent)

    assert profile.family == family
    assert (point.table, point.address) == _location(golden, entry)
    assert point.unit == entry.get("unit")
    assert _same(decoded, entry["value"]), f"decoded {decoded!r}, documented {entry['value']!r}"


def test_every_shipped_profile_family_has_a_golden_file() -> None:
    """A family without golden words would have nothing to catch a wrong constant in its profile."""
    families = {profile.family for profile in builtin_profiles().values()}

    assert families == set(_families())


def test_golden_variants_are_shipped_variants_of_their_family() -> None:
    """Every variant a golden file names exists and belongs to that file's family."""
    profiles = builtin_profiles()
    for family in _families():
        for variant in _golden(family)["variants"]:
            assert profiles[variant["variant"]].family == family, variant["variant"]


def _quirks(point: Point) -> set[str]:
    """Name every way a point's registers turn into its value."""
    quirks = {point.data_type.value}
    if point.count > 1 and point.data_type is not DataType.MOD10:
        quirks.add(f"{point.data_type.value} {point.word_order.value}")
    named = {
        "scale register": point.scale_point is not None,
        "fixed scale": point.scale != 1,
        "offset": point.offset != 0,
        "options": bool(point.options),
        "bit": point.bit is not None,
        "bit field": point.bit_field is not None,
        "sentinel": bool(point.sentinels),
    }
    return quirks | {name for name, present in named.items() if present}


def _covered(family: str) -> tuple[set[str], set[str]]:
    """Return the quirks the family's golden entries cover, and those shown unavailable."""
    covered: set[str] = set()
    unavailable: set[str] = set()
    for variant in _golden(family)["variants"]:
        profile: Profile = get_profile(variant["variant"])
        for entry in variant["points"]:
            quirks = _quirks(profile.point(entry["key"]))
            covered |= quirks
            if entry["value"] is None:
                unavailable |= quirks
    return covered, unavailable


@pytest.mark.parametrize("family", _families())
def test_golden_file_covers_every_quirk_its_family_uses(family: str) -> None:
    """Every data type, word order, scale, option, bit and sentinel of a family has golden words.

    A point with sentinels must also be shown decoding to "not available" at least once.
    """
    used: set[str] = set()
    for profile in builtin_profiles().values():
        if profile.family == family:
            for point in profile.points:
                used |= _quirks(point)
    covered, unavailable = _covered(family)

    assert used - covered == set()
    assert "sentinel" not in used or "sentinel" in unavailable
