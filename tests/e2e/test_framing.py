"""The bytes on the wire, checked against the OC-485 reference's own framing example."""

from __future__ import annotations

import asyncio

import serial

from custom_components.powerbus.engine.bus import Bus
from custom_components.powerbus.engine.link import LinkKind, LinkSettings
from custom_components.powerbus.engine.models import PointState, Table
from custom_components.powerbus.engine.poller import Poller
from custom_components.powerbus.engine.profile import parse_profile_text

SEED_QUERY = bytes.fromhex("02 03 00 32 00 03 E5 FA")
SEED_RESPONSE = bytes.fromhex("02 03 06 01 58 00 FA 00 54 1B 0D")

# Three holding registers from reference 40051, numbered the Modicon way as in the seed.
EXAMPLE_PROFILE = """
family: oc485_example
manufacturer: Liebert
addressing: modicon
limits: {timeout: 1.0}
point_sets:
  example:
    - {key: first, name: Register 40051, address: 40051}
    - {key: second, name: Register 40052, address: 40052}
    - {key: third, name: Register 40053, address: 40053}
variants:
  - {key: oc485_example, name: Example, point_sets: [example]}
"""


async def test_seed_query_goes_on_the_wire_and_response_decodes(serial_pair: tuple[str, str]) -> None:
    """Unit 2, holding register 40051, 3 registers: exactly the seed's frame, and its answer decodes."""
    device_end, master_end = serial_pair
    profile = parse_profile_text(EXAMPLE_PROFILE, "example.yaml")["oc485_example"]
    assert profile.point("first").table is Table.HOLDING_REGISTER
    assert profile.point("first").address == 50

    line = serial.Serial(device_end, baudrate=9600, parity="E", timeout=2)
    settings = LinkSettings(kind=LinkKind.RTU, serial_port=master_end, baudrate=9600, parity="E", stopbits=1, bytesize=8)
    try:
        async with Bus(settings) as bus:
            poll = asyncio.create_task(Poller(bus, profile, 2).poll())
            query = await asyncio.to_thread(line.read, len(SEED_QUERY))
            await asyncio.to_thread(line.write, SEED_RESPONSE)
            result = await poll
    finally:
        line.close()

    assert query == SEED_QUERY
    assert [result.readings[k].state for k in ("first", "second", "third")] == [PointState.VALID] * 3
    assert [result.value(k) for k in ("first", "second", "third")] == [0x0158, 0x00FA, 0x0054]
