"""Powerbus's services: run a profile command, move energy counters, raw register access.

Every service names its device with a device selector and is validated completely
before anything is sent: an unknown device, a device whose link is not loaded, an
unknown command, a parameter of the wrong type, out of range or not among its
choices, a dangerous action without ``confirm: true`` or a raw write the device's
profile does not allow is refused with a translated error, and the device sees
nothing. The engine checks what depends on the profile (``DeviceSession`` validates
every action before its first write); this module checks what depends on Home
Assistant: which device is meant, and which link it is on.
"""

from __future__ import annotations

import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
import voluptuous as vol

from .const import CONF_EXPERT_WRITES, DOMAIN
from .coordinator import PowerbusCoordinator, PowerbusDevice
from .engine import CommandResult, EnergyTransferResult, Table
from .errors import action_errors

SERVICE_RUN_COMMAND = "run_command"
SERVICE_TRANSFER_ENERGY = "transfer_energy"
SERVICE_WRITE_REGISTER = "write_register"
SERVICE_READ_REGISTERS = "read_registers"

ATTR_DEVICE = "device_id"
ATTR_COMMAND = "command"
ATTR_PARAMS = "params"
ATTR_CONFIRM = "confirm"
ATTR_SOURCE = "source_device_id"
ATTR_REGISTERS = "registers"
ATTR_TABLE = "table"
ATTR_ADDRESS = "address"
ATTR_VALUES = "values"
ATTR_COUNT = "count"

_WHOLE_NUMBER_TEXT = re.compile(r"[+-]?\d+")
_WRITABLE_TABLES = [Table.HOLDING_REGISTER.value, Table.COIL.value]
_MOST_ITEMS_PER_READ = 2000
"""The most items any Modbus read may ask for (coils); each profile may allow fewer."""


def _whole_number(value: Any) -> int:
    """Accept a whole number (also written as 12.0 or "12"); never round anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE_NUMBER_TEXT.fullmatch(value.strip()):
        return int(value)
    raise vol.Invalid(f"expected a whole number, not {value!r}")


_WORD = vol.All(_whole_number, vol.Range(min=0, max=0xFFFF))

RUN_COMMAND_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE): cv.string,
        vol.Required(ATTR_COMMAND): cv.string,
        vol.Optional(ATTR_PARAMS, default={}): dict,
        vol.Optional(ATTR_CONFIRM, default=False): cv.boolean,
    }
)
TRANSFER_ENERGY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE): cv.string,
        vol.Optional(ATTR_SOURCE): cv.string,
        vol.Optional(ATTR_REGISTERS): vol.All(cv.ensure_list, [_whole_number]),
        vol.Optional(ATTR_CONFIRM, default=False): cv.boolean,
    }
)
WRITE_REGISTER_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE): cv.string,
        vol.Optional(ATTR_TABLE, default=Table.HOLDING_REGISTER.value): vol.In(_WRITABLE_TABLES),
        vol.Required(ATTR_ADDRESS): _WORD,
        vol.Required(ATTR_VALUES): vol.All(cv.ensure_list, [_WORD]),
        vol.Optional(ATTR_CONFIRM, default=False): cv.boolean,
    }
)
READ_REGISTERS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE): cv.string,
        vol.Optional(ATTR_TABLE, default=Table.HOLDING_REGISTER.value): vol.In(
            [table.value for table in Table]
        ),
        vol.Required(ATTR_ADDRESS): _WORD,
        vol.Optional(ATTR_COUNT, default=1): vol.All(
            _whole_number, vol.Range(min=1, max=_MOST_ITEMS_PER_READ)
        ),
    }
)


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services (once, at integration setup)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RUN_COMMAND,
        _run_command,
        schema=RUN_COMMAND_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_TRANSFER_ENERGY,
        _transfer_energy,
        schema=TRANSFER_ENERGY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_WRITE_REGISTER, _write_register, schema=WRITE_REGISTER_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_REGISTERS,
        _read_registers,
        schema=READ_REGISTERS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


async def _run_command(call: ServiceCall) -> ServiceResponse:
    """Run a profile command with its parameters."""
    coordinator, device = _device(call.hass, call.data[ATTR_DEVICE])
    async with action_errors(coordinator, device):
        result = await device.session.run_command(
            call.data[ATTR_COMMAND], call.data[ATTR_PARAMS], confirm=call.data[ATTR_CONFIRM]
        )
    await coordinator.async_request_refresh()
    return _command_response(result)


async def _transfer_energy(call: ServiceCall) -> ServiceResponse:
    """Preset a PowerLogic meter's energy counters from an old meter or noted values."""
    coordinator, target = _device(call.hass, call.data[ATTR_DEVICE])
    from_meter = ATTR_SOURCE in call.data
    if from_meter == (ATTR_REGISTERS in call.data):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="two_energy_sources" if from_meter else "no_energy_source",
        )
    source = None
    if from_meter:
        _, old_meter = _device(call.hass, call.data[ATTR_SOURCE])
        _check_old_meter(target, old_meter)
        source = old_meter.session
    async with action_errors(coordinator, target):
        result = await target.session.transfer_energy(
            source=source,
            registers=call.data.get(ATTR_REGISTERS),
            confirm=call.data[ATTR_CONFIRM],
        )
    await coordinator.async_request_refresh()
    return _transfer_response(result)


async def _write_register(call: ServiceCall) -> None:
    """Write raw registers: onto a writable point, or anywhere with the expert option."""
    coordinator, device = _device(call.hass, call.data[ATTR_DEVICE])
    expert = bool(coordinator.config_entry.options.get(CONF_EXPERT_WRITES, False))
    async with action_errors(coordinator, device):
        await device.session.write_raw(
            Table(call.data[ATTR_TABLE]),
            call.data[ATTR_ADDRESS],
            call.data[ATTR_VALUES],
            confirm=call.data[ATTR_CONFIRM],
            expert=expert,
        )
    await coordinator.async_request_refresh()


async def _read_registers(call: ServiceCall) -> ServiceResponse:
    """Read raw registers, for support."""
    coordinator, device = _device(call.hass, call.data[ATTR_DEVICE])
    table = Table(call.data[ATTR_TABLE])
    async with action_errors(coordinator, device):
        values = await device.session.read_registers(
            table, call.data[ATTR_ADDRESS], call.data[ATTR_COUNT]
        )
    return {"table": table.value, "address": call.data[ATTR_ADDRESS], "values": values}


def _device(hass: HomeAssistant, device_id: str) -> tuple[PowerbusCoordinator, PowerbusDevice]:
    """Return the loaded link and the Powerbus device a service call names.

    Raises:
        ServiceValidationError: no such Powerbus device (``unknown_device``), or its
            link is not loaded (``link_not_loaded``).

    """
    registered = dr.async_get(hass).async_get(device_id)
    uids: set[str] = set()
    name = device_id
    if registered is not None:
        uids = {ident for domain, ident in registered.identifiers if domain == DOMAIN}
        name = registered.name_by_user or registered.name or device_id
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            coordinator: PowerbusCoordinator = entry.runtime_data
            for device in coordinator.devices.values():
                if device.uid in uids:
                    return coordinator, device
        elif any((s.unique_id or s.subentry_id) in uids for s in entry.subentries.values()):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="link_not_loaded",
                translation_placeholders={"device": name, "link": entry.title},
            )
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_device",
        translation_placeholders={"device": name},
    )


def _check_old_meter(target: PowerbusDevice, old_meter: PowerbusDevice) -> None:
    """Refuse an old meter that cannot give the new one its counters."""
    placeholders = {"device": old_meter.subentry.title}
    if old_meter is target:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="same_meter",
            translation_placeholders=placeholders,
        )
    if not old_meter.snapshot.available:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="old_meter_unavailable",
            translation_placeholders={**placeholders, "error": old_meter.snapshot.error or ""},
        )


def _command_response(result: CommandResult) -> dict[str, Any]:
    """Describe what a command did."""
    return {
        "command": result.command,
        "outcome": result.outcome,
        "writes": result.writes,
        "duration": round(result.duration, 3),
        "read_back": dict(result.readback),
    }


def _transfer_response(result: EnergyTransferResult) -> dict[str, Any]:
    """Describe an energy transfer: the meter's status code and each quantity checked."""
    report = result.command
    return {
        "status": report.outcome,
        "status_code": next(iter(report.readback.values()), None),
        "written": list(result.written),
        "read_back": list(result.read_back),
        "quantities": [
            {
                "key": check.key,
                "unit": check.unit,
                "written": check.written,
                "read_back": check.read_back,
            }
            for check in result.quantities
        ],
    }
