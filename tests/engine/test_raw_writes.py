"""Raw register writes for support: only what a profile allows, unless an expert confirms."""

from __future__ import annotations

import pytest

from powerbus.errors import ConfirmationRequiredError, WriteValidationError
from powerbus.models import Table

from .fakes import Rig

pytestmark = pytest.mark.hardware_free


async def test_a_raw_write_to_a_writable_point_within_its_rules_lands() -> None:
    """The setpoint (0..100) takes a raw 10."""
    rig = Rig()
    session = rig.session()
    await session.refresh()

    await session.write_raw(Table.HOLDING_REGISTER, 500, [10])

    assert rig.device.image[Table.HOLDING_REGISTER][500] == 10


@pytest.mark.parametrize(
    ("address", "values", "confirm", "error"),
    [
        (777, [1], False, WriteValidationError),  # no point there
        (500, [200], False, WriteValidationError),  # above the setpoint's maximum
        (500, [1, 2], False, WriteValidationError),  # more words than the point has
        (501, [1], False, ConfirmationRequiredError),  # a dangerous point
        (500, [70000], True, WriteValidationError),  # not a 16-bit word
        (0, [1], True, WriteValidationError),  # the serial number is not writable
    ],
)
async def test_a_raw_write_the_profile_does_not_allow_sends_nothing(
    address: int, values: list[int], confirm: bool, error: type[Exception]
) -> None:
    """Refused before anything goes on the wire."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    sent = len(rig.link.log)

    with pytest.raises(error):
        await session.write_raw(Table.HOLDING_REGISTER, address, values, confirm=confirm)

    assert len(rig.link.log) == sent


async def test_an_expert_write_anywhere_needs_a_confirmation() -> None:
    """Outside the profile the engine cannot judge a write: the user must confirm it."""
    rig = Rig()
    session = rig.session()
    await session.refresh()
    sent = len(rig.link.log)

    with pytest.raises(ConfirmationRequiredError):
        await session.write_raw(Table.HOLDING_REGISTER, 777, [5], expert=True)
    assert len(rig.link.log) == sent

    await session.write_raw(Table.HOLDING_REGISTER, 777, [5], expert=True, confirm=True)
    assert rig.device.image[Table.HOLDING_REGISTER][777] == 5


async def test_input_registers_are_never_written() -> None:
    """Even an expert cannot write a read-only table."""
    rig = Rig()
    session = rig.session()
    await session.refresh()

    with pytest.raises(WriteValidationError):
        await session.write_raw(Table.INPUT_REGISTER, 0, [1], expert=True, confirm=True)
