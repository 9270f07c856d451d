"""An independent master (mbpoll, built on libmodbus) reads the PRO380 simulator as the engine does."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

from powerbus.bus import Bus
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PollGroup
from powerbus.poller import Poller, PollResult
from powerbus.profile import get_profile
from powerbus.simulator.pro380 import Pro380Behaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

VALUE_LINE = re.compile(r"^\[(\d+)\]:\s+(-?[\d.]+(?:e[-+]?\d+)?)", re.MULTILINE)


async def _mbpoll(*args: str) -> dict[int, str]:
    """Run mbpoll once and return {register: printed value}."""
    if shutil.which("mbpoll") is None:
        pytest.fail("mbpoll is needed (apt-get install mbpoll)")
    process = await asyncio.create_subprocess_exec(
        "mbpoll", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    return {int(ref): value for ref, value in VALUE_LINE.findall(out.decode())}


async def _engine_and_mbpoll(
    group: PollGroup, mbpoll_args: list[str], adjust: dict[str, float] | None = None
) -> tuple[PollResult, dict[int, str]]:
    """Serve a paused PRO380, poll ``group`` through the engine, then read it with mbpoll."""
    profile = get_profile("pro380")
    meter = ProfileDevice(profile, Pro380Behaviour())
    meter.paused = True
    for key, value in (adjust or {}).items():
        meter.set_value(key, value)
    async with Simulator({1: meter}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        async with Bus(LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=port)) as bus:
            result = await Poller(bus, profile, 1).poll([group])
        shown = await _mbpoll(
            "-m", "tcp", "-p", str(port), "-a", "1", "-0", "-1", *mbpoll_args, "127.0.0.1"
        )
    return result, shown


async def test_mbpoll_reads_the_same_floats_the_engine_decodes() -> None:
    """Voltages, currents and powers: mbpoll's big-endian floats equal the engine's readings."""
    result, floats = await _engine_and_mbpoll(
        PollGroup.FAST,
        ["-B", "-t", "4:float", "-r", str(0x5000), "-c", "25"],
        {"current_l2": -3.25},
    )

    instantaneous = [p for p in get_profile("pro380").points if p.group is PollGroup.FAST]
    assert len(instantaneous) == 25
    for point in instantaneous:
        engine_value = result.value(point.key)
        assert isinstance(engine_value, float), point.key
        assert float(floats[point.address]) == pytest.approx(engine_value, rel=1e-5, abs=1e-5), (
            point.key
        )
    assert float(floats[0x500E]) == pytest.approx(-3.25)


async def test_mbpoll_reads_the_serial_number_registers() -> None:
    """The serial number's raw registers as mbpoll shows them spell the engine's serial number."""
    result, registers = await _engine_and_mbpoll(
        PollGroup.ONCE, ["-t", "4", "-r", str(0x4000), "-c", "2"]
    )

    spelled = "".join(f"{int(registers[a]):04X}" for a in (0x4000, 0x4001))
    assert spelled == result.value("serial_number") == "22091039"
