"""Every device family is recognised: the engine and ``powerbus read`` against simulated devices.

Each shipped variant's simulator is served over Modbus TCP and recognised among all shipped
profiles: by identity registers where the sources give them (PowerLogic's serial number, a
BCPM's device id), otherwise by which reads the device answers and which it refuses. Where
the variant cannot be told, every variant that fits is named.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
import json

import pytest

from powerbus.bus import Bus, RetryPolicy
from powerbus.cli import main
from powerbus.identify import identify, recognise
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Profile, Table
from powerbus.profile import builtin_profiles, get_profile
from powerbus.session import DeviceSession
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.device import SimulatedDevice
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

GATEWAY_UNIT = 254
BOARD_REGISTER = 60000  # a BCPM's DIP-switch address (register number; PDU address 59999)
# Variants no fingerprint can tell apart: the gateways without documented registers.
TWINS = {"egx100": {"egx300"}, "egx300": {"egx100"}, "egx200": {"egx400"}, "egx400": {"egx200"}}
# Serial numbers the simulators state (simulator/powerlogic_map.py); the PM800's is the FAQ's.
POWERLOGIC_SERIALS = {"pm800": "11000126", "cm3000": "31002211", "cm2000": "20304052"}


def unit_of(profile: Profile) -> int:
    """Where a variant is served: a gateway at 254, a BCPM half at its board address (1) or + 1."""
    if profile.family == "gateways":
        return GATEWAY_UNIT
    return 2 if profile.key.endswith("_43_84") else 1


def device_of(profile: Profile) -> SimulatedDevice:
    """Build the simulated device of a variant (the legacy PRO380 as a static image of its map)."""
    if profile.key == "pro380_legacy":
        return ProfileDevice(profile)
    return simulated_device(profile)


@asynccontextmanager
async def served(devices: Mapping[int, SimulatedDevice]) -> AsyncIterator[Bus]:
    """Serve ``devices`` over TCP and give an open bus to them (no retries)."""
    async with Simulator(devices) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        settings = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)
        async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
            yield bus


async def recognised(devices: Mapping[int, SimulatedDevice], unit: int) -> list[str]:
    """Recognise the device at ``unit`` among every shipped profile; return the keys found."""
    async with served(devices) as bus:
        found = await recognise(bus, unit, builtin_profiles().values())
    return [profile.key for profile in found]


@pytest.mark.parametrize("key", list(builtin_profiles()))
async def test_every_shipped_variant_is_recognised_on_its_simulator(key: str) -> None:
    """The variant is found, alone, or with the twins no documented register tells apart."""
    profile = get_profile(key)
    unit = unit_of(profile)

    found = await recognised({unit: device_of(profile)}, unit)

    assert key in found
    assert set(found) - {key} == TWINS.get(key, set())


@pytest.mark.parametrize(("key", "serial"), sorted(POWERLOGIC_SERIALS.items()))
async def test_a_powerlogic_meter_is_named_by_its_serial_number(key: str, serial: str) -> None:
    """Identity reads the serial number (low word first), and the device uid is built from it."""
    profile = get_profile(key)
    async with served({1: simulated_device(profile)}) as bus:
        identity = await identify(bus, 1, profile)
        session = DeviceSession(bus, profile, 1)
        snapshot = await session.refresh()

        assert identity.serial == serial
        assert snapshot.available
        assert session.uid == f"powerlogic_{serial}"


async def test_a_liebert_card_that_answers_unlisted_rows_is_every_ups_model() -> None:
    """A card that does not refuse the rows its model leaves out gives no fingerprint."""
    profile = get_profile("liebert_gxt2")
    card = ProfileDevice(profile)  # a static image answering every address of its ranges
    for area in profile.limits.readable:
        card.set_registers(area.table, area.start, [0] * (area.end - area.start + 1))
    card.set_registers(Table.INPUT_REGISTER, 3, [0x1110])  # 30004: one input, output, bypass line
    card.set_registers(Table.INPUT_REGISTER, 4, [0])  # 30005, listed by no UPS table

    found = await recognised({1: card}, 1)

    assert found == [p.key for p in builtin_profiles().values() if p.family == "liebert"]


@pytest.mark.parametrize(("unit", "board"), [(5, 9), (9, 9), (10, 9)])
async def test_a_bcpm_half_is_told_by_its_board_address(unit: int, board: int) -> None:
    """Unit = switches' address: channels 1-42; address + 1: channels 43-84; else either half."""
    upper = unit == board + 1
    profile = get_profile("bcpm_channels_43_84" if upper else "bcpm_channels_1_42")
    board_device = simulated_device(profile)
    board_device.set_registers(Table.HOLDING_REGISTER, BOARD_REGISTER - 1, [board])

    found = await recognised({unit: board_device}, unit)

    halves = {
        5: ["bcpm_channels_1_42", "bcpm_channels_43_84"],
        9: ["bcpm_channels_1_42"],
        10: ["bcpm_channels_43_84"],
    }
    assert found == halves[unit]


async def run_cli(*argv: str) -> int:
    """Run the ``powerbus`` command line in a worker thread, so the simulator keeps serving."""
    return await asyncio.to_thread(main, list(argv))


async def test_read_detects_the_model_or_names_the_candidates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``powerbus read`` reads a recognised PM800 and refuses to guess between two gateways."""
    pm800 = simulated_device(get_profile("pm800"))
    pm800.paused = True
    gateway = simulated_device(get_profile("egx100"))
    async with Simulator({1: pm800, GATEWAY_UNIT: gateway}) as simulator:
        link = f"tcp://127.0.0.1:{await simulator.start_tcp('127.0.0.1', 0)}"
        read_meter = await run_cli("read", link, "--unit", "1", "--json")
        meter = json.loads(capsys.readouterr().out)
        read_gateway = await run_cli("read", link, "--unit", "254")

    assert read_meter == 0
    assert meter["profile"] == "pm800"
    assert read_gateway == 1
    error = capsys.readouterr().err
    assert f"unit 254 on {link} may be any of egx100, egx300" in error
    assert "--profile" in error
