"""A USB-RS485 adapter that vanishes and comes back: the bus reopens the port by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
import subprocess
import time

from powerbus.bus import Bus, RetryPolicy
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Table
from powerbus.poller import Poller
from powerbus.profile import parse_profile_text
from powerbus.simulator.device import RegisterImage
from powerbus.simulator.server import Simulator

PROFILE = """
family: one_register
manufacturer: Test
limits: {timeout: 0.3}
point_sets:
  all:
    - {key: value, name: Value, table: holding_register, address: 7}
variants:
  - {key: one_register, name: One register, point_sets: [all]}
"""


def _start_pair(server_end: Path, client_end: Path) -> subprocess.Popen[bytes]:
    """Start socat with a pty pair at fixed paths and wait for both links."""
    process = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={server_end}", f"pty,raw,echo=0,link={client_end}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while not (server_end.exists() and client_end.exists()):
        assert process.poll() is None and time.monotonic() < deadline, "socat made no pty pair"
        time.sleep(0.02)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=5)


async def test_vanished_serial_port_makes_values_unavailable_then_recovers(tmp_path: Path) -> None:
    """Pulling the adapter gives unavailable readings; plugging it back gives fresh values."""
    profile = parse_profile_text(PROFILE, "one.yaml")["one_register"]
    server_end, client_end = tmp_path / "server", tmp_path / "client"
    image = RegisterImage({Table.HOLDING_REGISTER: {7: 1234}})
    settings = LinkSettings(
        kind=LinkKind.RTU,
        serial_port=str(client_end),
        baudrate=9600,
        parity="N",
        stopbits=1,
        bytesize=8,
    )
    policy = RetryPolicy(retries=1, backoff=0.01, reconnect_backoff=0.1, reconnect_backoff_max=0.2)

    socat = _start_pair(server_end, client_end)
    simulator = Simulator({1: image})
    await simulator.start_rtu(str(server_end), parity="N")
    bus = Bus(settings, policy=policy)
    try:
        poller = Poller(bus, profile, 1)
        before = await poller.poll()

        await simulator.stop()
        _stop(socat)
        gone = await poller.poll()

        image.set(Table.HOLDING_REGISTER, 7, 4321)
        socat = _start_pair(server_end, client_end)
        simulator = Simulator({1: image})
        await simulator.start_rtu(str(server_end), parity="N")
        back = None
        for _ in range(20):
            await asyncio.sleep(0.1)
            back = await poller.poll()
            if back.available and back.value("value") is not None:
                break
    finally:
        bus.close()
        await simulator.stop()
        _stop(socat)

    assert before.value("value") == 1234
    assert gone.readings["value"].state is PointState.UNAVAILABLE
    assert gone.readings["value"].value is None
    assert back is not None and back.value("value") == 4321
    assert bus.stats(1).errors["link"] + bus.stats(1).timeouts >= 1
