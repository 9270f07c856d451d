"""The services against simulated devices: what they do, and that a refused call sends nothing.

Every refusal is checked at the wire: the simulated devices note each request they
receive, and a call that is refused must not have written a single register. The
links poll rarely (long intervals), so that what reaches the wire during a call
comes from the call. Raw register access is in ``test_services_registers.py``, the
energy transfer in ``test_services_energy.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
import yaml

from custom_components.powerbus import errors
from custom_components.powerbus.const import DOMAIN
from powerbus import Table
from powerbus.simulator.liebert import LiebertUpsBehaviour

from .recorded import RARELY, Bench, serve_bench

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "powerbus"
_RAISED_KEY = re.compile(r"\(\s*translation_domain=DOMAIN,\s*translation_key=([^\n]+)")

PRO380, UPS = 1, 2
LCD_CYCLE_TIME = 0x4010  # BCD seconds, writable 1..30
SERIAL_NUMBER = 0x4000  # two registers
SERIAL = "22091039"  # what the simulated meter holds there
OUTPUT_OFF = 103  # the UPS's register 40104: seconds until its output opens


@pytest.fixture
async def bench(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Bench]:
    """Serve a PRO380 meter; raw writes are limited to what its profile allows."""
    async for value in serve_bench(hass, {PRO380: "pro380"}, **RARELY):
        yield value


@pytest.fixture
async def ups_bench(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[Bench]:
    """Serve a Liebert UPS."""
    async for value in serve_bench(hass, {UPS: "liebert_series300"}, **RARELY):
        yield value


# --- Registration ----------------------------------------------------------------------------
async def test_services_exist_before_any_link_is_set_up(hass: HomeAssistant) -> None:
    """The services come with the integration, so automations naming them validate."""
    assert await async_setup_component(hass, DOMAIN, {})

    expected = {
        "run_command": SupportsResponse.OPTIONAL,
        "transfer_energy": SupportsResponse.OPTIONAL,
        "write_register": SupportsResponse.NONE,
        "read_registers": SupportsResponse.ONLY,
    }
    for service, supports in expected.items():
        assert hass.services.has_service(DOMAIN, service)
        assert hass.services.supports_response(DOMAIN, service) is supports
    with pytest.raises(ServiceValidationError) as refusal:
        await hass.services.async_call(
            DOMAIN, "run_command", {"device_id": "nothing", "command": "x"}, blocking=True
        )
    assert refusal.value.translation_key == "unknown_device"


# --- run_command -----------------------------------------------------------------------------
async def test_run_command_switches_the_tariff_and_reports_the_read_back(bench: Bench) -> None:
    """set_tariff writes the tariff register, checks it and answers with what it read."""
    meter = bench.recorded.site.devices[PRO380]
    assert meter.get_value("tariff") == "t1"

    result = await bench.call(
        "run_command",
        {"device_id": bench.device(PRO380), "command": "set_tariff", "params": {"tariff": "t2"}},
        response=True,
    )

    assert result is not None
    assert (result["outcome"], result["writes"], result["read_back"]) == ("done", 1, {"tariff": 2})
    assert meter.get_value("tariff") == "t2"
    assert [(w.unit, w.address) for w in bench.recorded.wire.writes] == [(PRO380, 0x6048)]


async def test_run_command_starts_a_battery_test(ups_bench: Bench) -> None:
    """A Liebert battery test starts on the UPS; the answer says one write was made."""
    bench = ups_bench
    ups = bench.recorded.site.devices[UPS].behaviour
    assert isinstance(ups, LiebertUpsBehaviour)
    assert not ups.battery_test_running

    result = await bench.call(
        "run_command",
        {"device_id": bench.device(UPS), "command": "start_battery_test"},
        response=True,
    )

    assert result is not None
    assert (result["command"], result["outcome"], result["writes"]) == (
        "start_battery_test",
        "done",
        1,
    )
    assert ups.battery_test_running


async def test_a_dangerous_command_runs_once_confirmed_and_valid(ups_bench: Bench) -> None:
    """output_off is refused without confirm: true or with a delay off its 10 s step."""
    bench = ups_bench
    data = {"device_id": bench.device(UPS), "command": "output_off", "params": {"delay": 60}}
    assert await bench.refused("run_command", data) == "confirmation_required"
    off_step = {**data, "params": {"delay": 15}, "confirm": True}
    assert await bench.refused("run_command", off_step) == "invalid_request"

    await bench.call("run_command", {**data, "confirm": True})

    assert [(w.unit, w.address) for w in bench.recorded.wire.writes] == [(UPS, OUTPUT_OFF)]


def _command(key: str, confirm: bool | None = None, **params: Any) -> dict[str, Any]:
    """Return the data of a run_command call (without its device)."""
    data: dict[str, Any] = {"command": key, "params": params}
    if confirm is not None:
        data["confirm"] = confirm
    return data


RUN_COMMAND_REFUSALS = [
    ("unknown command", _command("self_destruct"), "invalid_request"),
    ("choice not offered", _command("set_tariff", tariff="t3"), "invalid_request"),
    ("required parameter missing", _command("set_tariff"), "invalid_request"),
    ("unknown parameter", _command("set_tariff", tariff="t1", rate=2), "invalid_request"),
    ("text for a number", _command("set_lcd_cycle_time", seconds="ten"), "invalid_request"),
    ("true for a number", _command("set_lcd_cycle_time", seconds=True), "invalid_request"),
    (
        "a fraction for a whole number",
        _command("set_lcd_cycle_time", seconds=2.5),
        "invalid_request",
    ),
    ("above the maximum", _command("set_lcd_cycle_time", seconds=31), "invalid_request"),
    ("below the minimum", _command("set_s0_rate", rate=0.001), "invalid_request"),
    ("dangerous without confirm", _command("reset_day_counter"), "confirmation_required"),
    (
        "dangerous, confirm false",
        _command("set_modbus_id", False, modbus_id=5),
        "confirmation_required",
    ),
    (
        "dangerous and out of range",
        _command("set_modbus_id", True, modbus_id=300),
        "invalid_request",
    ),
]


async def test_run_command_refuses_a_bad_request_before_sending_anything(bench: Bench) -> None:
    """Every way a command request can be wrong is refused with its key, and nothing is written."""
    meter = bench.device(PRO380)
    for name, data, key in RUN_COMMAND_REFUSALS:
        refused = await bench.refused("run_command", {"device_id": meter, **data})
        assert refused == key, name

    assert bench.recorded.site.devices[PRO380].get_value("tariff") == "t1"
    assert bench.recorded.wire.writes == []


async def test_parameters_that_are_no_mapping_are_refused_by_the_schema(bench: Bench) -> None:
    """``params`` must be a mapping: a list never reaches the handler."""
    with pytest.raises(vol.Invalid):
        await bench.call(
            "run_command",
            {"device_id": bench.device(PRO380), "command": "set_tariff", "params": ["t2"]},
        )
    assert bench.recorded.wire.writes == []


# --- Which device ----------------------------------------------------------------------------
async def test_a_device_that_is_not_powerbus_is_refused(bench: Bench) -> None:
    """An unknown id and another integration's device are both unknown to Powerbus."""
    other = MockConfigEntry(domain="other")
    other.add_to_hass(bench.hass)
    foreign = dr.async_get(bench.hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "x")}, name="Someone's lamp"
    )

    for device in ("not-a-device-id", foreign.id):
        refused = await bench.refused(
            "run_command", {"device_id": device, "command": "start_battery_test"}
        )
        assert refused == "unknown_device"


async def test_a_device_whose_link_is_not_loaded_is_refused(bench: Bench) -> None:
    """A device stays in the registry while its link is unloaded; calls to it are refused."""
    meter = bench.device(PRO380)
    assert await bench.hass.config_entries.async_unload(bench.entry.entry_id)
    await bench.hass.async_block_till_done()

    for service, data in (
        ("run_command", _command("set_tariff", tariff="t2")),
        ("write_register", {"address": LCD_CYCLE_TIME, "values": [0x0012]}),
        ("read_registers", {"address": SERIAL_NUMBER}),
    ):
        with pytest.raises(ServiceValidationError) as refusal:
            await bench.call(
                service, {"device_id": meter, **data}, response=service == "read_registers"
            )
        assert refusal.value.translation_key == "link_not_loaded"
        assert refusal.value.translation_placeholders["link"] == bench.entry.title

    assert bench.recorded.wire.writes == []


async def test_an_answer_that_makes_no_sense_is_reported(bench: Bench) -> None:
    """A read-back that does not decode ends in a translated error naming the device."""

    def no_bcd(table: Table, address: int, words: list[int]) -> list[int]:
        if address <= LCD_CYCLE_TIME < address + len(words):
            words[LCD_CYCLE_TIME - address] = 0x001A
        return words

    bench.recorded.served[PRO380].garble_answers = no_bcd

    with pytest.raises(HomeAssistantError) as failure:
        await bench.call(
            "run_command",
            {"device_id": bench.device(PRO380), **_command("set_lcd_cycle_time", seconds=12)},
        )
    assert failure.value.translation_key == "device_error"
    assert failure.value.translation_placeholders["device"] == f"PRO380-Mod {SERIAL}"
    assert "binary-coded decimal" in failure.value.translation_placeholders["error"]


# --- Strings and icons -----------------------------------------------------------------------
def _strings() -> dict[str, Any]:
    """Return the integration's strings.json."""
    loaded: dict[str, Any] = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
    return loaded


def test_every_error_a_service_or_action_raises_has_a_message() -> None:
    """Each exception key the integration uses, and each command outcome, is translated."""
    messages = _strings()["exceptions"]
    used = {
        key
        for path in INTEGRATION.glob("*.py")
        for key in _translation_keys(path.read_text("utf-8"))
    }
    used |= {f"command_{outcome}" for outcome in errors.COMMAND_OUTCOMES} | {"command_failed"}
    missing = sorted(key for key in used if not messages.get(key, {}).get("message"))
    assert not missing


def _translation_keys(source: str) -> set[str]:
    """Return the translation keys of the exceptions a module's source raises."""
    return {
        key for line in _RAISED_KEY.findall(source) for key in re.findall(r'"([a-z0-9_]+)"', line)
    }


def test_every_service_field_has_a_name_a_description_and_the_service_an_icon() -> None:
    """services.yaml, strings.json and icons.json describe the same services and fields."""
    described = yaml.safe_load((INTEGRATION / "services.yaml").read_text("utf-8"))
    strings = _strings()["services"]
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))["services"]

    assert set(described) == set(strings) == set(icons)
    for service, schema in described.items():
        assert strings[service]["name"] and strings[service]["description"]
        assert icons[service]["service"].startswith("mdi:")
        assert set(schema["fields"]) == set(strings[service]["fields"]), service
        for field in strings[service]["fields"].values():
            assert field["name"] and field["description"], service
