"""Whatever a profile file holds, the loader answers with profiles or a ProfileError.

A seeded mutator damages the shipped profile files the way hands and tools do: a
field deleted or given an odd value (a 400-digit integer, NaN, infinity, a
negative number, text, null, an empty list, a YAML alias that contains itself), a
line given twice (a duplicate key or point), bytes that are not UTF-8, a file cut
short. Each mutant is written to a file and loaded as a user's file is; nothing
but a :class:`ProfileError` may come out, and the error must name the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import random
import re

import pytest

from powerbus.errors import ProfileError
from powerbus.profile import load_profile_file

PROFILES_DIR = Path(__file__).parents[2] / "custom_components/powerbus/engine/profiles"
# The smaller files keep the run to a few seconds; between them they hold every kind of field.
SOURCES = ("gateways.yaml", "liebert_ds.yaml", "pro380.yaml", "apc.yaml")
MUTANTS = 300
SEED = 20260107

ODD_VALUES = (
    "9" * 400,
    "-" + "9" * 400,
    "0x" + "F" * 120,
    ".nan",
    ".inf",
    "-.inf",
    "-1",
    "0",
    "65536",
    "1.5",
    "1e-3",
    "true",
    "null",
    "''",
    '"' + "x" * 300 + '"',
    "[]",
    "{}",
    "[[]]",
    "[.nan, " + "9" * 400 + "]",
    "{key: x}",
    "&loop [*loop]",
    "!!binary aGVsbG8=",
    "!!float",
    "!!int x",
    "!!timestamp x",
    "2026-01-07",
    "ÿ",
)
NOT_UTF8 = (b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80")
FIELD = re.compile(rb"([a-z_]+): ([^,{}\[\]\n]+)")

Mutation = Callable[[bytes, random.Random], bytes]


def replace_value(text: bytes, rng: random.Random) -> bytes:
    """Give a random field an odd value."""
    fields = list(FIELD.finditer(text))
    if not fields:
        return text
    field = rng.choice(fields)
    value = rng.choice(ODD_VALUES).encode()
    return text[: field.start(2)] + value + text[field.end(2) :]


def delete_field(text: bytes, rng: random.Random) -> bytes:
    """Delete a random field with its value."""
    fields = list(FIELD.finditer(text))
    if not fields:
        return text
    field = rng.choice(fields)
    end = field.end() + 2 if text[field.end() : field.end() + 2] == b", " else field.end()
    return text[: field.start()] + text[end:]


def duplicate_field(text: bytes, rng: random.Random) -> bytes:
    """Give a random field twice, with another value the second time."""
    fields = list(FIELD.finditer(text))
    if not fields:
        return text
    field = rng.choice(fields)
    copy = field.group(1) + b": " + rng.choice(ODD_VALUES[:12]).encode()
    separator = b", " if text[field.end() : field.end() + 1] in (b",", b"}") else b"\n"
    indent = b"" if separator == b", " else _indent_of(text, field.start())
    return text[: field.end()] + separator + indent + copy + text[field.end() :]


def duplicate_line(text: bytes, rng: random.Random) -> bytes:
    """Write a random line twice (a key, a point or a list item given twice)."""
    lines = text.splitlines(keepends=True)
    index = rng.randrange(len(lines))
    return b"".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])


def truncate(text: bytes, rng: random.Random) -> bytes:
    """Cut the file short anywhere."""
    return text[: rng.randrange(len(text))]


def insert_bytes(text: bytes, rng: random.Random) -> bytes:
    """Put bytes that are not UTF-8 anywhere."""
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(NOT_UTF8) + text[at:]


def _indent_of(text: bytes, position: int) -> bytes:
    """Return the indentation of the line holding ``position``."""
    start = text.rfind(b"\n", 0, position) + 1
    line = text[start:position]
    return line[: len(line) - len(line.lstrip(b" -"))].replace(b"-", b" ")


MUTATIONS: tuple[Mutation, ...] = (
    replace_value,
    replace_value,
    delete_field,
    duplicate_field,
    duplicate_line,
    truncate,
    insert_bytes,
)


def mutants(count: int, seed: int) -> list[tuple[str, bytes]]:
    """Return ``count`` damaged copies of the shipped files, each with what was done to it."""
    rng = random.Random(seed)
    sources = {name: (PROFILES_DIR / name).read_bytes() for name in SOURCES}
    made = []
    for _ in range(count):
        name = rng.choice(SOURCES)
        text = sources[name]
        done = []
        for _ in range(rng.randint(1, 3)):
            mutation = rng.choice(MUTATIONS)
            text = mutation(text, rng)
            done.append(mutation.__name__)
        made.append((f"{name} after {', '.join(done)}", text))
    return made


def test_no_damaged_file_escapes_as_anything_but_a_profile_error(tmp_path: Path) -> None:
    """Every mutant loads or fails with a ProfileError naming its file; most of them fail."""
    crashes = []
    refused: list[ProfileError] = []
    for index, (label, text) in enumerate(mutants(MUTANTS, SEED)):
        path = tmp_path / f"mutant_{index}.yaml"
        path.write_bytes(text)
        try:
            load_profile_file(path)
        except ProfileError as err:
            refused.append(err)
        except Exception as err:  # noqa: BLE001 - any other exception is what this test finds
            crashes.append(f"{label}: {type(err).__name__}: {err}")
    assert crashes == []
    assert len(refused) > MUTANTS // 2
    for err in refused:
        assert {problem.file for problem in err.problems} == {err.file}
        assert err.file.startswith(str(tmp_path))
        assert str(err).count("\n") == len(err.problems) - 1


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda text: text.replace(b"address: 0x5002", b"address: " + b"9" * 400), "address"),
        (lambda text: text.replace(b"timeout: 1.0", b"timeout: " + b"9" * 400), "timeout"),
        (lambda text: b"\xff" + text, "UTF-8"),
    ],
    ids=["huge address", "huge timeout", "not UTF-8"],
)
def test_the_crashes_fuzzing_found_are_profile_errors(
    tmp_path: Path, mutation: Callable[[bytes], bytes], message: str
) -> None:
    """A 400-digit number and a byte that is not UTF-8 once escaped as Python errors."""
    original = (PROFILES_DIR / "pro380.yaml").read_bytes()
    damaged = mutation(original)
    assert damaged != original
    path = tmp_path / "pro380.yaml"
    path.write_bytes(damaged)
    with pytest.raises(ProfileError, match=message):
        load_profile_file(path)
