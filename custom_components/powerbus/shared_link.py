"""Links on Home Assistant's shared Modbus connections, where the release has them.

Home Assistant 2026.10 and later share one Modbus connection per endpoint between
integrations (``homeassistant.components.modbus.async_get_unit``). Where this release
does, a link's bus talks through units of that connection (``shared_transport.py``)
instead of opening the port itself, so that Powerbus and another integration on the same
USB adapter or TCP endpoint take turns instead of talking over each other. Where it does
not, :func:`async_shared_bus` returns None and the integration owns the link. The test is
for the function, not for a version.

Endpoint names: core compares serial device paths verbatim, so ``/dev/serial/by-id/...``
and the ``/dev/ttyUSB0`` it points to would be two connections on one wire. A serial link
therefore takes the spelling of a connection core already has to the same device, else the
port's ``/dev/serial/by-id`` name (what Home Assistant's port pickers hand out), else the
path as configured. A holder that comes later under yet another alias still gets a
connection of its own: configure every integration with the by-id path. Network endpoints
are compared by host name as written (folded to lower case) and port, so ``localhost`` and
``127.0.0.1`` are two connections. RTU over TCP is a serial link on a ``socket://`` device
at the line speed core gives it, named as core names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
import importlib
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, HomeAssistantError

from .const import CONF_PROFILE, CONF_UNIT, DOMAIN, SUBENTRY_DEVICE
from .coordinator import monotonic_seconds
from .engine import Bus, LinkKind, LinkSettings, ProfileError, ProfileLibrary
from .shared_transport import CoreModbus, SharedUnits, SharedUnitTransport, UnitNeeds

SERIAL_BY_ID = "/dev/serial/by-id"
# The line speed core gives RTU carried over a socket; a link has to ask with the same
# settings as every other holder of its endpoint.
_SOCKET_BAUDRATE = 115200


def core_modbus() -> CoreModbus | None:
    """Return this release's shared Modbus connections, or None where it has none."""
    try:
        modbus = importlib.import_module("homeassistant.components.modbus")
    except ImportError:  # its requirements are missing: no shared connections either
        return None
    get_unit = getattr(modbus, "async_get_unit", None)
    if get_unit is None:
        return None
    connection = importlib.import_module("homeassistant.components.modbus.connection")
    library = importlib.import_module("modbus_connection")
    return CoreModbus(
        get_unit=get_unit,
        connection_info=connection.async_get_connection_info,
        tcp_params=library.ModbusTcpParams,
        serial_params=library.ModbusSerialParams,
        failures=(library.ModbusError, OSError),
        exception_answer=library.ModbusExceptionError,
        connection_error=library.ModbusConnectionError,
        timeout_error=library.ModbusTimeoutError,
    )


async def async_shared_bus(
    hass: HomeAssistant, entry: ConfigEntry, settings: LinkSettings, library: ProfileLibrary
) -> Bus | None:
    """Return a bus for the link on core's shared connection, or None where there is none.

    Raises:
        ConfigEntryError: another integration holds the endpoint with other line settings.

    """
    core = core_modbus()
    if core is None:
        return None
    params = await _async_params(hass, core, settings)
    units = SharedUnits(hass, entry, core, params, unit_needs(entry, library))
    try:
        units.claim_configured()
    except HomeAssistantError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="link_in_use",
            translation_placeholders={"link": settings.describe(), "error": str(err)},
        ) from err
    bus = Bus(
        settings,
        transport_factory=partial(SharedUnitTransport, units=units),
        clock=monotonic_seconds,
    )
    entry.async_on_unload(bus.close)
    return bus


def unit_needs(entry: ConfigEntry, library: ProfileLibrary) -> dict[int, UnitNeeds]:
    """Return what each configured device's profile asks of the line, by unit id."""
    needs: dict[int, UnitNeeds] = {}
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_DEVICE:
            continue
        try:
            limits = library.get(subentry.data[CONF_PROFILE]).limits
        except ProfileError:  # set-up reports the device; its unit is held when first used
            continue
        needs[int(subentry.data[CONF_UNIT])] = UnitNeeds(
            spacing=limits.min_spacing, timeout=limits.request_timeout(limits.max_registers)
        )
    return needs


async def _async_params(hass: HomeAssistant, core: CoreModbus, settings: LinkSettings) -> Any:
    """Return the connection parameters of the link, named as core names its endpoint."""
    if settings.kind is LinkKind.TCP:
        return core.tcp_params(host=settings.host, port=settings.port)
    if settings.kind is LinkKind.RTU_OVER_TCP:
        host = settings.host.lower()
        address = f"[{host}]" if ":" in host else host
        return core.serial_params(
            device=f"socket://{address}:{settings.port}", baudrate=_SOCKET_BAUDRATE
        )
    held = [
        info.endpoint[1]
        for info in core.connection_info(hass)
        if info.endpoint[0] == "serial" and not info.endpoint[1].startswith("socket://")
    ]
    device = await hass.async_add_executor_job(serial_device_name, settings.serial_port, held)
    line = {
        "baudrate": settings.baudrate,
        "parity": settings.parity,
        "stopbits": settings.stopbits,
        "bytesize": settings.bytesize,
    }
    return core.serial_params(
        device=device, **{key: value for key, value in line.items() if value is not None}
    )


async def async_held_by_core(hass: HomeAssistant, settings: LinkSettings) -> bool:
    """Whether core already holds a shared connection to the link's endpoint.

    Such an endpoint is open and in use: opening it a second time to test it could only
    fail (a serial port is opened exclusively) or disturb its holder.
    """
    core = core_modbus()
    if core is None:
        return False
    endpoints = {tuple(info.endpoint) for info in core.connection_info(hass)}
    if settings.kind is LinkKind.TCP:
        return ("tcp", settings.host.lower(), settings.port) in endpoints or (
            "tcp",
            settings.host,
            settings.port,
        ) in endpoints
    params = await _async_params(hass, core, settings)
    return ("serial", params.device) in endpoints


def serial_device_name(path: str, held: Iterable[str], by_id: str = SERIAL_BY_ID) -> str:
    """Name a serial port as core's other holders of it do (blocking: reads the file system).

    The spelling of a connection core already has to the same device comes first, then
    the port's name under ``by_id``, then ``path`` itself.
    """
    device = Path(path).resolve()
    for name in held:
        if Path(name).resolve() == device:
            return name
    folder = Path(by_id)
    if Path(path).parent == folder:
        return path
    try:
        aliases = sorted(folder.iterdir())
    except OSError:
        return path
    return next((str(alias) for alias in aliases if alias.resolve() == device), path)
