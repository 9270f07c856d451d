"""BCPM end to end: both halves of one board, at unit N and N + 1, polled over Modbus TCP and RTU."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
import math

import pytest

from powerbus.bus import Bus
from powerbus.commands import run_command
from powerbus.errors import ConfirmationRequiredError, WriteValidationError
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, PollGroup, Profile, Table
from powerbus.planner import plan_reads
from powerbus.poller import Poller
from powerbus.profile import get_profile
from powerbus.simulator.bcpm import BcpmBehaviour
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

BOARD_ADDRESS = 7
IR = Table.INPUT_REGISTER
HR = Table.HOLDING_REGISTER
SEED_CURRENT_REGISTER = 1336  # channel 1 current (register number, PDU 1335)
SEED_SCALE_REGISTER = 1000  # its scale register (PDU 999)


@dataclass
class Board:
    """One simulated BCPM board: its two halves, their profiles, its clock and a bus to them."""

    bus: Bus
    lower: ProfileDevice
    upper: ProfileDevice
    lower_profile: Profile
    upper_profile: Profile
    clock: ManualClock


def _device(profile: Profile, clock: ManualClock, speed: float = 1.0) -> ProfileDevice:
    """Build a simulated half board whose values hold still until the test lets them move."""
    device = ProfileDevice(profile, BcpmBehaviour(speed=speed), clock=clock)
    device.paused = True
    return device


@pytest.fixture(params=["tcp", "rtu"])
async def board(request: pytest.FixtureRequest) -> AsyncIterator[Board]:
    """Serve a board at unit 7 (channels 1-42) and 8 (channels 43-84), over TCP or a serial line."""
    lower_profile, upper_profile = (
        get_profile("bcpm_channels_1_42"),
        get_profile("bcpm_channels_43_84"),
    )
    clock = ManualClock()
    lower, upper = (
        _device(lower_profile, clock, speed=600),
        _device(upper_profile, clock, speed=600),
    )
    simulator = Simulator({BOARD_ADDRESS: lower, BOARD_ADDRESS + 1: upper})
    if request.param == "tcp":
        port = await simulator.start_tcp("127.0.0.1", 0)
        settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        await simulator.start_rtu(server_end, baudrate=38400, parity="N", stopbits=1, bytesize=8)
        settings = LinkSettings(
            kind=LinkKind.RTU,
            serial_port=client_end,
            baudrate=38400,
            parity="N",
            stopbits=1,
            bytesize=8,
        )
    async with Bus(settings) as bus:
        yield Board(bus, lower, upper, lower_profile, upper_profile, clock)
    await simulator.stop()


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected


async def test_both_halves_read_every_point_as_the_board_holds_it(board: Board) -> None:
    """Unit N gives channels 1-42 and unit N + 1 channels 43-84, each value paired with its own scale."""
    lower = await Poller(board.bus, board.lower_profile, BOARD_ADDRESS).poll()
    upper = await Poller(board.bus, board.upper_profile, BOARD_ADDRESS + 1).poll()

    for result, device, profile in (
        (lower, board.lower, board.lower_profile),
        (upper, board.upper, board.upper_profile),
    ):
        assert result.available
        for point in profile.points:
            reading = result.readings[point.key]
            assert reading.state is PointState.VALID, (point.key, reading.error)
            assert _same(reading.value, device.get_value(point.key)), point.key
    assert lower.value("channel_1_current_scale") == -2
    assert lower.value("channel_3_current_scale") == -1
    assert "channel_43_current" in upper.readings and "channel_43_current" not in lower.readings
    assert lower.value("channel_7_current") == 0  # a spare breaker


async def test_seed_example_register_1336_is_80_amps(board: Board) -> None:
    """Register 1336 = 8000 with scale register 1000 = 65534 (-2) reads 80.00 A, as Schneider's FAQ says."""
    board.lower.set_registers(IR, SEED_CURRENT_REGISTER - 1, [8000])
    board.lower.set_registers(IR, SEED_SCALE_REGISTER - 1, [65534])

    result = await Poller(board.bus, board.lower_profile, BOARD_ADDRESS).poll([PollGroup.FAST])

    assert result.value("channel_1_current") == pytest.approx(80.0)
    assert result.readings["channel_1_current"].raw == (8000,)


async def test_each_channel_uses_its_own_scale_register(board: Board) -> None:
    """The same raw 8000 reads 80 A under -2 and 800 A under -1; changing one scale moves one channel."""
    for channel in (1, 2):
        board.lower.set_registers(IR, 1335 + channel - 1, [8000])
        board.lower.set_registers(IR, 999 + channel - 1, [65534])
    poller = Poller(board.bus, board.lower_profile, BOARD_ADDRESS)
    before = await poller.poll([PollGroup.FAST])
    board.lower.set_registers(IR, 999 + 1, [65535])  # channel 2 now on a -1 sensor
    after = await poller.poll([PollGroup.FAST])

    assert (
        before.value("channel_1_current")
        == before.value("channel_2_current")
        == pytest.approx(80.0)
    )
    assert after.value("channel_1_current") == pytest.approx(80.0)
    assert after.value("channel_2_current") == pytest.approx(800.0)


async def test_upper_half_answers_the_same_register_numbers_at_address_plus_one(
    board: Board,
) -> None:
    """Register 1336 at unit N + 1 is channel 43; the same register at unit N is still channel 1."""
    board.upper.set_registers(IR, SEED_CURRENT_REGISTER - 1, [1234])
    board.upper.set_registers(IR, SEED_SCALE_REGISTER - 1, [65534])
    board.lower.set_registers(IR, SEED_CURRENT_REGISTER - 1, [500])
    board.lower.set_registers(IR, SEED_SCALE_REGISTER - 1, [65535])

    upper = await Poller(board.bus, board.upper_profile, BOARD_ADDRESS + 1).poll([PollGroup.FAST])
    lower = await Poller(board.bus, board.lower_profile, BOARD_ADDRESS).poll([PollGroup.FAST])

    assert upper.value("channel_43_current") == pytest.approx(12.34)
    assert lower.value("channel_1_current") == pytest.approx(50.0)


async def test_fast_poll_reads_the_scale_registers_with_the_values(board: Board) -> None:
    """Scale registers sit in the slow group but are read in every poll of the values they scale."""
    result = await Poller(board.bus, board.lower_profile, BOARD_ADDRESS).poll([PollGroup.FAST])

    assert result.readings["channel_1_current_scale"].state is PointState.VALID
    assert result.value("channel_1_current") == pytest.approx(
        board.lower.get_value("channel_1_current")
    )
    assert {(b.start, b.count) for b in result.blocks} >= {(999, 84), (1335, 42)}
    assert all(block.count <= 84 for block in result.blocks)


async def test_energy_of_a_running_board_counts_up(board: Board) -> None:
    """Ten simulated hours on a loaded channel add about ten hours of its power to its energy."""
    board.lower.paused = False
    poller = Poller(board.bus, board.lower_profile, BOARD_ADDRESS)
    first = await poller.poll([PollGroup.NORMAL])
    board.clock.advance(60)  # at 600 times real speed: 10 hours
    second = await poller.poll([PollGroup.FAST, PollGroup.NORMAL])

    before, after = first.value("channel_1_energy"), second.value("channel_1_energy")
    power = second.value("channel_1_power")
    assert isinstance(before, float) and isinstance(after, float)
    assert isinstance(power, float) and power > 0
    assert after - before == pytest.approx(10 * power, rel=0.25)


async def test_current_only_variant_reads_currents_without_power_registers(board: Board) -> None:
    """The BCPM B/C variant polls only the current and scale blocks of the same board."""
    profile = get_profile("bcpm_current_channels_1_42")
    assert not profile.has_point("channel_1_power")

    result = await Poller(board.bus, profile, BOARD_ADDRESS).poll()

    assert result.value("channel_1_current") == pytest.approx(
        board.lower.get_value("channel_1_current")
    )
    data_blocks = {block.start for block in result.blocks if block.table is IR}
    assert data_blocks == {999, 1335, 1587}


async def test_reset_maxima_needs_confirmation_then_resets_every_channel(board: Board) -> None:
    """Without confirmation nothing is written; with it each channel's maximum restarts from its present value."""
    board.lower.set_registers(IR, 1587, [9000])  # channel 1 maximum: 90.00 A
    requests = board.bus.stats(BOARD_ADDRESS).requests

    with pytest.raises(ConfirmationRequiredError):
        await run_command(board.bus, board.lower_profile, BOARD_ADDRESS, "reset_maxima")
    assert board.bus.stats(BOARD_ADDRESS).requests == requests
    assert board.lower.get_value("channel_1_max_current") == pytest.approx(90.0)

    result = await run_command(
        board.bus, board.lower_profile, BOARD_ADDRESS, "reset_maxima", confirm=True
    )

    assert result.writes == 42
    for channel in (1, 20, 42):
        current = board.lower.get_value(f"channel_{channel}_current")
        assert board.lower.get_value(f"channel_{channel}_max_current") == pytest.approx(current)


async def test_reset_maxima_of_the_upper_half_leaves_the_lower_half_alone(board: Board) -> None:
    """Each half resets its own channels: the command goes to one unit id."""
    board.lower.set_registers(IR, 1587, [9000])
    board.upper.set_registers(IR, 1587, [9000])

    await run_command(
        board.bus, board.upper_profile, BOARD_ADDRESS + 1, "reset_maxima", confirm=True
    )

    assert board.lower.get_value("channel_1_max_current") == pytest.approx(90.0)
    assert board.upper.get_value("channel_43_max_current") == pytest.approx(
        board.upper.get_value("channel_43_current")
    )


async def test_branch_numbering_is_written_to_register_6(board: Board) -> None:
    """The numbering command writes the scheme's code to register 6 of the unit it addresses."""
    behaviour = board.lower.behaviour
    assert isinstance(behaviour, BcpmBehaviour)

    result = await run_command(
        board.bus,
        board.lower_profile,
        BOARD_ADDRESS,
        "set_branch_numbering",
        {"scheme": "sequential"},
        confirm=True,
    )

    assert result.writes == 1
    assert behaviour.numbering_scheme == "sequential"


@pytest.mark.parametrize(
    ("command", "params", "confirm"),
    [
        ("set_branch_numbering", {"scheme": "diagonal"}, True),
        ("set_branch_numbering", {"scheme": 7}, True),
        ("set_branch_numbering", {}, True),
        ("set_branch_numbering", {"scheme": "top_feed"}, False),
        ("reset_maxima", {"channel": 3}, True),
    ],
)
async def test_invalid_command_writes_nothing(
    board: Board, command: str, params: dict[str, object], confirm: bool
) -> None:
    """A command refused before sending leaves the bus and the board untouched."""
    behaviour = board.lower.behaviour
    assert isinstance(behaviour, BcpmBehaviour)
    requests = board.bus.stats(BOARD_ADDRESS).requests
    maxima = board.lower.registers(IR, 1545, 84)

    with pytest.raises(WriteValidationError):
        await run_command(
            board.bus, board.lower_profile, BOARD_ADDRESS, command, params, confirm=confirm
        )

    assert board.bus.stats(BOARD_ADDRESS).requests == requests
    assert board.lower.registers(IR, 1545, 84) == maxima
    assert behaviour.numbering_scheme == "top_feed"


def test_plan_keeps_every_read_within_84_registers() -> None:
    """The data of one half takes seven reads, none longer than the 84 the board is known to serve."""
    profile = get_profile("bcpm_channels_1_42")
    plan = plan_reads(profile.points, profile.limits)

    assert len([block for block in plan.blocks if block.table is IR]) == 7
    assert max(block.count for block in plan.blocks) == 84
    assert not plan.unplannable
    assert profile.limits.max_registers == 84


def test_halves_share_register_numbers_and_default_to_consecutive_units() -> None:
    """Channel 43 of the upper half sits where channel 1 sits in the lower half; units 1 and 2 by default."""
    lower, upper = get_profile("bcpm_channels_1_42"), get_profile("bcpm_channels_43_84")

    assert (
        upper.point("channel_43_current").address
        == lower.point("channel_1_current").address
        == 1335
    )
    assert upper.point("channel_84_energy").address == lower.point("channel_42_energy").address
    assert (lower.transport.unit_id, upper.transport.unit_id) == (1, 2)
    assert lower.point("channel_1_current").scale_point == "channel_1_current_scale"
    assert lower.point("channel_1_current_scale").address == 999
