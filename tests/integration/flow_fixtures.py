"""Helpers for the set-up flow tests: real links to simulators, and checks of what a form shows.

A form's errors must be translated and shown on a field the form has; these helpers
check both against strings.json, so a test that expects an error also proves the user
can read it where it belongs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cache
import json
import os
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr

from custom_components.powerbus.const import DOMAIN
from powerbus.simulator.server import Simulator

STRINGS_PATH = Path(__file__).parents[2] / "custom_components" / "powerbus" / "strings.json"


@cache
def strings() -> dict[str, Any]:
    """Return the integration's strings.json."""
    loaded: dict[str, Any] = json.loads(STRINGS_PATH.read_text(encoding="utf-8"))
    return loaded


def flow_strings(section: str) -> dict[str, Any]:
    """Return the strings of a flow: ``config``, ``options`` or ``config_subentries.device``."""
    found: dict[str, Any] = strings()
    for part in section.split("."):
        found = found[part]
    return found


def form_fields(result: Mapping[str, Any]) -> list[str]:
    """Return the names of the fields a form shows, in order."""
    return [str(key) for key in result["data_schema"].schema]


def suggested(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return the values a form fills in for the user."""
    values: dict[str, Any] = {}
    for key in result["data_schema"].schema:
        description = getattr(key, "description", None) or {}
        if "suggested_value" in description:
            values[str(key)] = description["suggested_value"]
    return values


def select_options(result: Mapping[str, Any], field: str) -> list[str]:
    """Return the values a select field of a form offers."""
    for key, validator in result["data_schema"].schema.items():
        if str(key) == field:
            return [
                option if isinstance(option, str) else option["value"]
                for option in validator.config["options"]
            ]
    raise AssertionError(f"the form has no field {field}")


def assert_form(result: Mapping[str, Any], section: str, step: str) -> None:
    """Assert the result is the form ``step``, every field it shows has a label, every placeholder a value."""
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == step
    texts = flow_strings(section)["step"][step]
    labels = texts.get("data", {})
    missing = [field for field in form_fields(result) if field not in labels]
    assert not missing, f"{section}.step.{step} has no label for {missing}"
    placeholders = result.get("description_placeholders") or {}
    unfilled = [
        name for name in _placeholders(texts.get("description", "")) if name not in placeholders
    ]
    assert not unfilled, f"{section}.step.{step} leaves {unfilled} unfilled"


def assert_field_error(
    result: Mapping[str, Any], section: str, step: str, field: str, key: str
) -> None:
    """Assert the form ``step`` shows exactly the error ``key`` on ``field``, translated."""
    assert_form(result, section, step)
    assert result["errors"] == {field: key}
    assert field == "base" or field in form_fields(result), f"{field} is not on the form"
    assert flow_strings(section)["error"][key], f"{section}.error.{key} has no text"


def assert_abort(result: Mapping[str, Any], section: str, reason: str) -> None:
    """Assert the flow ended with ``reason``, which has a text, with its placeholders filled."""
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == reason
    text: str = flow_strings(section)["abort"][reason]
    placeholders = result.get("description_placeholders") or {}
    for name in _placeholders(text):
        assert name in placeholders, f"{section}.abort.{reason} needs {{{name}}}"


def _placeholders(text: str) -> list[str]:
    """Return the names of the ``{placeholders}`` in a text."""
    names: list[str] = []
    rest = text
    while "{" in rest:
        _, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        names.append(name)
    return names


def devices_of(hass: HomeAssistant, entry: ConfigEntry) -> list[dr.DeviceEntry]:
    """Return the registry's devices of a link."""
    return dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)


def identifiers(device: dr.DeviceEntry) -> set[str]:
    """Return the Powerbus identifiers of a registry device."""
    return {value for domain, value in device.identifiers if domain == DOMAIN}


async def unload_all(hass: HomeAssistant) -> None:
    """Unload every Powerbus link, so that no poll outlives the test."""
    await hass.async_block_till_done()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state.recoverable:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@asynccontextmanager
async def rtu_simulator(simulator: Simulator, device_end: str) -> AsyncIterator[Simulator]:
    """Serve ``simulator``'s devices over RTU on a pseudo-terminal (8N1: a pty has no parity)."""
    await simulator.start_rtu(device_end, parity="N")
    try:
        yield simulator
    finally:
        await simulator.stop()


@asynccontextmanager
async def serial_server(line_end: str) -> AsyncIterator[int]:
    """Pass bytes between a TCP port on 127.0.0.1 and a serial line, as a serial server does.

    The line is opened once; each connection takes it over from the one before, and
    whatever the line sends goes to the connection of the moment. Yield the port.
    """
    fd = os.open(line_end, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    current: list[asyncio.StreamWriter] = []

    def from_line() -> None:
        data = os.read(fd, 4096)
        for writer in current[-1:]:
            writer.write(data)

    async def to_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for earlier in current:
            earlier.close()
        current[:] = [writer]
        while data := await reader.read(4096):
            os.write(fd, data)
        writer.close()

    loop.add_reader(fd, from_line)
    server = await asyncio.start_server(to_line, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in current:
            writer.close()
        await server.wait_closed()
        loop.remove_reader(fd)
        os.close(fd)
