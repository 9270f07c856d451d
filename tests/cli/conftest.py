"""Simulated devices served on 127.0.0.1 for the command line's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from powerbus.models import Table
from powerbus.profile import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.faults import FaultPlan
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator


@dataclass
class Served:
    """A simulated device on a free 127.0.0.1 port, the link to it, and what reached it."""

    link: str
    unit: int
    device: ProfileDevice
    faults: FaultPlan
    requests: list[tuple[str, Table, int]]


@dataclass
class _Recorder:
    """A simulated device that notes every request reaching it."""

    device: ProfileDevice
    requests: list[tuple[str, Table, int]]

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Note the read and answer it from the device."""
        self.requests.append(("read", table, address))
        return self.device.read(table, address, count)

    def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
        """Note the write and hand it to the device."""
        self.requests.append(("write", table, address))
        self.device.write(table, address, values)


Serve = Callable[[str], Awaitable[Served]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve a paused simulated device of a shipped profile, as the profile's unit id."""
    simulators: list[Simulator] = []

    async def start(key: str) -> Served:
        profile = get_profile(key)
        device = simulated_device(profile)
        device.paused = True
        requests: list[tuple[str, Table, int]] = []
        unit = profile.transport.unit_id
        simulator = Simulator({unit: _Recorder(device, requests)})
        simulators.append(simulator)
        port = await simulator.start_tcp("127.0.0.1", 0)
        return Served(
            link=f"tcp://127.0.0.1:{port}",
            unit=unit,
            device=device,
            faults=simulator.faults,
            requests=requests,
        )

    yield start
    for simulator in simulators:
        await simulator.stop()
