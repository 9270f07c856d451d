"""The bytes on the wire, checked against the OC-485 reference's own framing example.

The seed (Liebert OC-485 Modbus reference, "RTU Framing") shows the query
``02 03 00 32 00 03 E5 FA`` and the response ``02 03 06 01 58 00 FA 00 54 1B 0D``.
Its header and data bytes are right, but neither CRC is the Modbus CRC-16 of its
frame (the query's is A4 37, the response's 34 57): a device would ignore both
frames as written. The tests hold the engine to the seed's bytes where they are
right, to an independently computed CRC where the seed's is wrong, and check that a
frame carrying the seed's wrong CRC is refused rather than taken for values.
"""

from __future__ import annotations

import asyncio

import serial

from powerbus.bus import Bus, RetryPolicy
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import PointState, Table
from powerbus.poller import Poller, PollResult
from powerbus.profile import parse_profile_text
from tests.modbus_crc import modbus_crc

SEED_QUERY = bytes.fromhex("02 03 00 32 00 03 E5 FA")
SEED_RESPONSE = bytes.fromhex("02 03 06 01 58 00 FA 00 54 1B 0D")

# Three holding registers from reference 40051, numbered the Modicon way as in the seed.
EXAMPLE_PROFILE = """
family: oc485_example
manufacturer: Liebert
addressing: modicon
limits: {timeout: 0.5}
point_sets:
  example:
    - {key: first, name: Register 40051, address: 40051}
    - {key: second, name: Register 40052, address: 40052}
    - {key: third, name: Register 40053, address: 40053}
variants:
  - {key: oc485_example, name: Example, point_sets: [example]}
"""
KEYS = ("first", "second", "third")


async def _exchange(serial_pair: tuple[str, str], response: bytes) -> tuple[bytes, PollResult]:
    """Poll unit 2 over RTU, play the device by hand, return (query seen, poll result)."""
    device_end, master_end = serial_pair
    profile = parse_profile_text(EXAMPLE_PROFILE, "example.yaml")["oc485_example"]
    line = serial.Serial(device_end, baudrate=9600, timeout=2)
    settings = LinkSettings(
        kind=LinkKind.RTU, serial_port=master_end, baudrate=9600, parity="N", stopbits=1, bytesize=8
    )
    try:
        async with Bus(settings, policy=RetryPolicy(retries=0)) as bus:
            poll = asyncio.create_task(Poller(bus, profile, 2).poll())
            query = await asyncio.to_thread(line.read, len(SEED_QUERY))
            await asyncio.to_thread(line.write, response)
            result = await poll
    finally:
        line.close()
    return query, result


def test_example_profile_resolves_40051_to_holding_register_50() -> None:
    """Modicon reference 40051 is holding register PDU address 50 (0x32)."""
    profile = parse_profile_text(EXAMPLE_PROFILE, "example.yaml")["oc485_example"]
    assert profile.point("first").table is Table.HOLDING_REGISTER
    assert profile.point("first").address == 0x32


async def test_seed_query_goes_on_the_wire(serial_pair: tuple[str, str]) -> None:
    """Unit 2, function 3, address 0x0032, 3 registers, then the frame's true CRC."""
    answer = SEED_RESPONSE[:-2] + modbus_crc(SEED_RESPONSE[:-2])
    query, result = await _exchange(serial_pair, answer)

    assert query[:6] == SEED_QUERY[:6]
    assert query[6:] == modbus_crc(SEED_QUERY[:6]) == bytes.fromhex("A4 37")
    assert [result.readings[k].state for k in KEYS] == [PointState.VALID] * 3
    assert [result.value(k) for k in KEYS] == [0x0158, 0x00FA, 0x0054]


async def test_seed_response_with_its_printed_crc_is_not_taken_for_values(
    serial_pair: tuple[str, str],
) -> None:
    """The seed's response bytes verbatim fail the CRC check: unavailable, never wrong values."""
    assert SEED_RESPONSE[-2:] != modbus_crc(SEED_RESPONSE[:-2])
    _, result = await _exchange(serial_pair, SEED_RESPONSE)

    assert [result.readings[k].state for k in KEYS] == [PointState.UNAVAILABLE] * 3
    assert all(result.readings[k].value is None for k in KEYS)
