"""Reordering and checking energy registers for a transfer, without a bus."""

from __future__ import annotations

import pytest

from powerbus.energy_transfer import block_order, to_preset_order, validate_preset
from powerbus.errors import WriteValidationError
from powerbus.profile import get_profile

# FAQ-002 Table 1, CM2000 column: the CM2000 register that feeds each buffer register 8022-8049.
CM2000_SOURCE_OF_BUFFER = [
    *range(1601, 1617),  # energy in/out, real and reactive
    *range(1621, 1625),  # real energy total
    *range(1625, 1629),  # reactive energy total
    *range(1617, 1621),  # apparent energy total
]


def test_cm2000_block_is_reordered_as_table_1_says() -> None:
    """Registers read from 1601-1628 land in the buffer as the FAQ's table maps them."""
    read_in_address_order = list(range(1601, 1629))

    assert (
        list(to_preset_order(get_profile("cm2000"), read_in_address_order))
        == CM2000_SOURCE_OF_BUFFER
    )


@pytest.mark.parametrize("variant", ["pm800", "pm800_float", "cm3000", "cm4000_float"])
def test_1700_block_is_already_in_buffer_order(variant: str) -> None:
    """1700-1727 mirror 8022-8049 one to one."""
    registers = list(range(1700, 1728))

    assert list(to_preset_order(get_profile(variant), registers)) == registers


def test_cm2000_lays_apparent_energy_before_the_totals() -> None:
    """The CM2000's address order differs from the buffer order in the last three energies."""
    assert block_order(get_profile("cm2000"))[-3:] == (
        "apparent_energy",
        "active_energy",
        "reactive_energy",
    )
    assert block_order(get_profile("pm800"))[-3:] == (
        "active_energy",
        "reactive_energy",
        "apparent_energy",
    )


@pytest.mark.parametrize(
    ("index", "value", "named"),
    [
        (0, 10_000, "value 0 (import_active_energy, register 1 of 4, for buffer register 8022)"),
        (27, -10_000, "value 27 (apparent_energy, register 4 of 4, for buffer register 8049)"),
        (13, 1.0, "value 13 (export_reactive_energy, register 2 of 4"),
        (6, True, "value 6 (import_reactive_energy, register 3 of 4"),
        (19, "12", "value 19 (active_energy, register 4 of 4"),
    ],
)
def test_a_bad_value_is_named(index: int, value: object, named: str) -> None:
    """A value that is not an integer in -9999..9999 is refused with its place in the buffer."""
    registers: list[object] = [0] * 28
    registers[index] = value

    with pytest.raises(WriteValidationError) as refused:
        validate_preset(registers)

    assert named in str(refused.value)


def test_limits_themselves_are_accepted() -> None:
    """-9999 and 9999 are valid MOD10 registers."""
    registers = [9999, -9999] * 14

    assert validate_preset(registers) == tuple(registers)


@pytest.mark.parametrize("count", [0, 27, 29])
def test_wrong_count_is_refused(count: int) -> None:
    """The buffer holds exactly 28 registers."""
    with pytest.raises(WriteValidationError, match="exactly 28"):
        validate_preset([0] * count)
    with pytest.raises(WriteValidationError, match="exactly 28"):
        to_preset_order(get_profile("pm800"), [0] * count)
