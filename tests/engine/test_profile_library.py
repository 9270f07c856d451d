"""A user's own profile directory, read beside the shipped profiles with the same validation.

Both front ends call :func:`powerbus.load_profiles` with the directory their user
configured: every file is checked, a broken one is reported without stopping the
others, and a file may not take a key a shipped profile (or an earlier file) has.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import powerbus
from powerbus import ProfileError, ProfileLibrary, builtin_profiles, get_profile, load_profiles

USER_METER = """
family: {family}
manufacturer: Workshop
defaults: {{table: holding_register}}
point_sets:
  main:
    - {{key: voltage, name: Voltage, address: 0, data_type: f32, unit: V}}
variants:
  - {{key: {key}, name: Workshop meter, point_sets: [main]}}
"""


def user_meter(key: str, family: str = "workshop") -> str:
    """Return a valid family file with one variant ``key``."""
    return USER_METER.format(key=key, family=family)


def test_load_profiles_and_the_library_are_public() -> None:
    """Front ends reach them through the package's public face."""
    assert {"load_profiles", "ProfileLibrary", "ProfileProblem"} <= set(powerbus.__all__)


def test_user_profiles_join_the_shipped_ones(tmp_path: Path) -> None:
    """Every ``*.yaml`` and ``*.yml`` file is read; other files are left alone."""
    (tmp_path / "meter.yaml").write_text(user_meter("workshop_meter"))
    (tmp_path / "spare.yml").write_text(user_meter("spare_meter", family="spare"))
    (tmp_path / "README.txt").write_text("not a profile")
    library = load_profiles(tmp_path)
    assert library.errors == {}
    assert library.user_keys == {"workshop_meter", "spare_meter"}
    assert set(library.profiles) == set(builtin_profiles()) | library.user_keys
    meter = library.get("workshop_meter")
    assert meter.source_file == str(tmp_path / "meter.yaml")
    assert meter.point("voltage").unit == "V"
    assert library.get("pro380") is get_profile("pro380")


def test_a_broken_file_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    """Each file's problems are kept under its path; the files after it are read all the same."""
    (tmp_path / "a_latin1.yaml").write_bytes(user_meter("latin_meter").encode() + b"# \xb0C\n")
    (tmp_path / "b_broken.yaml").write_text(
        user_meter("broken_meter").replace("data_type: f32", "data_type: f33, scale: .nan")
    )
    (tmp_path / "c_good.yaml").write_text(user_meter("good_meter"))
    library = load_profiles(tmp_path)
    assert library.user_keys == {"good_meter"}
    assert set(library.errors) == {str(tmp_path / "a_latin1.yaml"), str(tmp_path / "b_broken.yaml")}
    assert "is not UTF-8 text" in str(library.errors[str(tmp_path / "a_latin1.yaml")])
    broken = library.errors[str(tmp_path / "b_broken.yaml")]
    assert [problem.field for problem in broken.problems] == ["data_type", "scale"]
    assert "broken_meter" not in library.profiles


def test_a_user_file_may_not_take_a_shipped_key(tmp_path: Path) -> None:
    """A user's pro380 would hide the shipped one, and its fixes in later releases, unseen."""
    (tmp_path / "pro380.yaml").write_text(user_meter("pro380", family="pro380"))
    library = load_profiles(tmp_path)
    assert library.get("pro380") is get_profile("pro380")
    assert library.user_keys == frozenset()
    assert str(library.errors[str(tmp_path / "pro380.yaml")]) == (
        f"{tmp_path / 'pro380.yaml'}, variant 'pro380', field 'key': the key is taken by "
        "PRO380-Mod from pro380.yaml; give the variant a key of its own"
    )


def test_a_copy_of_a_shipped_family_under_its_own_key_keeps_the_family(tmp_path: Path) -> None:
    """To correct a shipped profile, copy it and give the variant a key of its own.

    The family stays, and with it the ids of the devices and entities.
    """
    shipped = Path(get_profile("pro380").source_file)
    text = (Path(powerbus.__file__).parent / "profiles" / shipped).read_text(encoding="utf-8")
    text = text.replace("  - key: pro380\n", "  - key: pro380_local\n", 1).replace(
        "  - key: pro380_legacy\n", "  - key: pro380_legacy_local\n", 1
    )
    (tmp_path / "pro380_local.yaml").write_text(text)
    library = load_profiles(tmp_path)
    assert library.errors == {}
    assert library.get("pro380_local").family == get_profile("pro380").family


def test_two_user_files_may_not_share_a_key(tmp_path: Path) -> None:
    """The first file in name order keeps the key; the second is refused, naming the first."""
    (tmp_path / "first.yaml").write_text(user_meter("workshop_meter"))
    (tmp_path / "second.yaml").write_text(user_meter("workshop_meter", family="other"))
    library = load_profiles(tmp_path)
    assert library.get("workshop_meter").family == "workshop"
    assert f"from {tmp_path / 'first.yaml'}" in str(library.errors[str(tmp_path / "second.yaml")])


def test_a_missing_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """The shipped profiles are still there; the directory's problem is kept under its path."""
    missing = str(tmp_path / "nowhere")
    library = load_profiles(missing)
    assert set(library.profiles) == set(builtin_profiles())
    assert str(library.errors[missing]).startswith(f"{missing}: cannot read the directory")


def test_no_directory_gives_the_shipped_profiles() -> None:
    """A front end without a configured directory calls it with None."""
    library = load_profiles(None)
    assert library == ProfileLibrary(profiles=builtin_profiles())


def test_an_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    """The user's keys are listed with the shipped ones."""
    (tmp_path / "meter.yaml").write_text(user_meter("workshop_meter"))
    with pytest.raises(
        ProfileError, match=r"no profile 'pro390' \(known: .*pro380.*workshop_meter"
    ):
        load_profiles(tmp_path).get("pro390")
