"""Raw register access for support: write_register and read_registers against a simulated PRO380.

A raw write lands only on a point the profile declares writable, with a value its
rules allow, unless the link's expert option is on; then it may go anywhere, but
only with ``confirm: true``. A raw read returns the words as the device holds them.
Every refusal is checked at the wire: nothing refused may reach the meter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
import voluptuous as vol

from custom_components.powerbus.const import CONF_EXPERT_WRITES
from powerbus import Table

from .recorded import RARELY, Bench, serve_bench

PRO380 = 1
LCD_CYCLE_TIME = 0x4010  # BCD seconds, writable 1..30
MODBUS_ID = 0x4003  # writable 1..247, dangerous
VOLTAGE_L1 = 0x5002  # a reading, not writable
SERIAL_NUMBER = 0x4000  # two registers


@pytest.fixture
async def bench(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Bench]:
    """Serve a PRO380 meter; raw writes are limited to what its profile allows."""
    async for value in serve_bench(hass, {PRO380: "pro380"}, **RARELY):
        yield value


@pytest.fixture
async def expert_bench(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Bench]:
    """Serve a PRO380 meter on a link whose expert option is on (raw writes anywhere)."""
    options = {**RARELY, CONF_EXPERT_WRITES: True}
    async for value in serve_bench(hass, {PRO380: "pro380"}, **options):
        yield value


# --- write_register --------------------------------------------------------------------------
async def test_write_register_lands_on_a_writable_point(bench: Bench) -> None:
    """A raw write of a valid value onto a writable point reaches the meter."""
    await bench.call(
        "write_register",
        {"device_id": bench.device(PRO380), "address": LCD_CYCLE_TIME, "values": [0x0015]},
    )

    assert bench.recorded.site.devices[PRO380].get_value("lcd_cycle_time") == 15
    assert [(w.unit, w.address, w.count) for w in bench.recorded.wire.writes] == [
        (PRO380, LCD_CYCLE_TIME, 1)
    ]


WRITE_REGISTER_REFUSALS = [
    ("not a writable point", {"address": VOLTAGE_L1, "values": [1, 2]}, "invalid_request"),
    ("part of a point", {"address": SERIAL_NUMBER + 1, "values": [1]}, "invalid_request"),
    (
        "above the point's maximum",
        {"address": LCD_CYCLE_TIME, "values": [0x0031]},
        "invalid_request",
    ),
    ("below the point's minimum", {"address": LCD_CYCLE_TIME, "values": [0]}, "invalid_request"),
    ("not a BCD number", {"address": LCD_CYCLE_TIME, "values": [0x001A]}, "invalid_request"),
    (
        "dangerous point without confirm",
        {"address": MODBUS_ID, "values": [5]},
        "confirmation_required",
    ),
    ("a coil set to 2", {"table": "coil", "address": 0, "values": [2]}, "invalid_request"),
    ("no values", {"address": LCD_CYCLE_TIME, "values": []}, "invalid_request"),
]
WRITE_REGISTER_SCHEMA_REFUSALS = [
    ("a read-only table", {"table": "input_register", "address": 0, "values": [1]}),
    ("a word above 65535", {"address": LCD_CYCLE_TIME, "values": [70000]}),
    ("a negative address", {"address": -1, "values": [1]}),
    ("a fraction", {"address": LCD_CYCLE_TIME, "values": [1.5]}),
    ("text", {"address": LCD_CYCLE_TIME, "values": ["ten"]}),
]


async def test_write_register_refuses_what_the_profile_does_not_allow(bench: Bench) -> None:
    """Without the expert option only valid values of writable points may be written."""
    for name, data, key in WRITE_REGISTER_REFUSALS:
        refused = await bench.refused("write_register", {"device_id": bench.device(PRO380), **data})
        assert refused == key, name
    for name, data in WRITE_REGISTER_SCHEMA_REFUSALS:
        with pytest.raises(vol.Invalid):
            await bench.call("write_register", {"device_id": bench.device(PRO380), **data})
        assert bench.recorded.wire.writes == [], name

    assert bench.recorded.site.devices[PRO380].get_value("modbus_id") == 1


async def test_expert_writes_go_anywhere_but_only_when_confirmed(expert_bench: Bench) -> None:
    """With the expert option a write need not fit a point, but it always needs confirm: true."""
    bench = expert_bench
    meter = bench.device(PRO380)
    anywhere = {"device_id": meter, "address": VOLTAGE_L1, "values": [1, 2]}
    assert await bench.refused("write_register", anywhere) == "confirmation_required"
    writable = {"device_id": meter, "address": LCD_CYCLE_TIME, "values": [0x0012]}
    assert await bench.refused("write_register", writable) == "confirmation_required"

    with pytest.raises(HomeAssistantError) as refusal:
        await bench.call("write_register", {**anywhere, "confirm": True})
    assert refusal.value.translation_key == "device_refused"  # the meter itself said no
    await bench.call("write_register", {**writable, "confirm": True})

    assert [(w.address, w.count) for w in bench.recorded.wire.writes] == [
        (VOLTAGE_L1, 2),
        (LCD_CYCLE_TIME, 1),
    ]
    assert bench.recorded.site.devices[PRO380].get_value("lcd_cycle_time") == 12


# --- read_registers --------------------------------------------------------------------------
async def test_read_registers_returns_the_words(bench: Bench) -> None:
    """The serial number's two registers come back as the meter holds them."""
    meter = bench.recorded.site.devices[PRO380]
    before = len(bench.recorded.wire.requests)

    result = await bench.call(
        "read_registers",
        {"device_id": bench.device(PRO380), "address": SERIAL_NUMBER, "count": 2},
        response=True,
    )

    assert result == {
        "table": "holding_register",
        "address": SERIAL_NUMBER,
        "values": meter.registers(Table.HOLDING_REGISTER, SERIAL_NUMBER, 2),
    }
    assert [(r.address, r.count) for r in bench.recorded.wire.requests[before:]] == [
        (SERIAL_NUMBER, 2)
    ]


async def test_whole_numbers_may_come_as_text_or_as_floats(bench: Bench) -> None:
    """A form or a template may hand numbers over as "16384" or 2.0; they are taken as they are."""
    result = await bench.call(
        "read_registers",
        {"device_id": bench.device(PRO380), "address": str(SERIAL_NUMBER), "count": 2.0},
        response=True,
    )

    assert result is not None
    assert (result["address"], len(result["values"])) == (SERIAL_NUMBER, 2)


async def test_read_registers_refuses_a_read_no_request_may_ask(bench: Bench) -> None:
    """A count above the device's limit or a span past 65535 is refused before any request."""
    meter = bench.device(PRO380)
    before = len(bench.recorded.wire.requests)
    for data in ({"count": 126}, {"address": 65535, "count": 2}):
        refused = await bench.refused(
            "read_registers", {"device_id": meter, "address": 0, **data}, response=True
        )
        assert refused == "invalid_request", data
    for data in ({"count": 0}, {"table": "eeprom"}, {"count": 2.5}):
        with pytest.raises(vol.Invalid):
            await bench.call(
                "read_registers", {"device_id": meter, "address": 0, **data}, response=True
            )

    assert bench.recorded.wire.requests[before:] == []


async def test_a_device_that_does_not_answer_is_reported(bench: Bench) -> None:
    """A read the device leaves unanswered ends in a translated error, not a traceback."""
    await bench.recorded.site.simulator.stop()

    with pytest.raises(HomeAssistantError) as failure:
        await bench.call(
            "read_registers",
            {"device_id": bench.device(PRO380), "address": SERIAL_NUMBER},
            response=True,
        )
    assert failure.value.translation_key == "no_answer"
