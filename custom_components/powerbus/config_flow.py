"""Set up a link in the UI: a serial port, a Modbus TCP endpoint or a serial server.

The link is tested before anything is created: a serial port must open with the
line settings given, a TCP endpoint must accept a connection. Devices are then
added to the link as subentries (``device_flow.py``). The options set the poll
interval of each poll group and whether raw writes outside the profiles are allowed
(``options_flow.py``).

A link is named after its address (``LinkSettings.describe``, the name logs and
errors use too) and its unique id is the engine's link id, from the address as
configured. One wire is one link: a second link to a port or endpoint already
configured is refused, also when it is named another way (``/dev/ttyUSB0`` for a
``/dev/serial/by-id`` path, or RTU over TCP for a Modbus TCP host and port).
"""

from __future__ import annotations

from collections.abc import Mapping
import os
from pathlib import Path
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers import selector
from serial.tools import list_ports
import voluptuous as vol

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_FAMILY,
    CONF_LINK_TYPE,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    DOMAIN,
    LINK_MINOR_VERSION,
    LINK_VERSION,
    SERIAL_BAUDRATES,
    SERIAL_PARITIES,
    SUBENTRY_DEVICE,
    LinkType,
)
from .device_flow import DeviceSubentryFlow
from .engine import (
    Bus,
    LinkError,
    LinkKind,
    LinkSettings,
    RetryPolicy,
    builtin_profiles,
    link_id,
    link_key,
)
from .options_flow import PowerbusOptionsFlow
from .settings import CONF_HOST, CONF_PORT, link_settings, serial_defaults
from .shared_link import async_held_by_core

SERIAL_BY_ID = Path("/dev/serial/by-id")
"""Where udev names serial adapters stably; the port list offers these names first."""
_OPEN_TIMEOUT = 3.0
_DEFAULT_PORTS = {LinkType.TCP: 502, LinkType.RTU_OVER_TCP: 4001}
_OTHER_FAMILY = "other"
_OTHER_LINE = {CONF_BAUDRATE: "9600", CONF_PARITY: "E", CONF_STOPBITS: "1", CONF_BYTESIZE: "8"}
"""Modbus' own default line (9600 baud, 8 data bits, even parity, 1 stop bit)."""


class PowerbusConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a link: choose how it reaches the devices, describe it, test it."""

    VERSION = LINK_VERSION
    MINOR_VERSION = LINK_MINOR_VERSION

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._ports: list[str] = []
        self._serial: dict[str, str] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Poll intervals and expert writes."""
        return PowerbusOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Devices are subentries of their link."""
        return {SUBENTRY_DEVICE: DeviceSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the link reaches its devices."""
        return self.async_show_menu(
            step_id="user", menu_options=[LinkType.SERIAL, LinkType.TCP, LinkType.RTU_OVER_TCP]
        )

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the serial port and the kind of device on it (for its line settings)."""
        if user_input is not None:
            self._serial = {
                CONF_SERIAL_PORT: user_input[CONF_SERIAL_PORT],
                **_family_line(user_input[CONF_FAMILY]),
            }
            return await self.async_step_serial_line()
        self._ports = await self.hass.async_add_executor_job(serial_ports)
        family = selector.SelectSelectorConfig(
            options=[*_families(), _OTHER_FAMILY],
            translation_key=CONF_FAMILY,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
        return self.async_show_form(
            step_id="serial",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_SERIAL_PORT): _port_selector(self._ports),
                    vol.Required(CONF_FAMILY, default=_OTHER_FAMILY): selector.SelectSelector(
                        family
                    ),
                }
            ),
        )

    async def async_step_serial_line(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the port and its line settings (defaulted from the family), then open it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _serial_data(user_input, errors)
            if data is not None and (created := await self._create(data, errors)) is not None:
                return created
        return self.async_show_form(
            step_id="serial_line",
            data_schema=self.add_suggested_values_to_schema(
                _serial_schema(self._ports), user_input or self._serial
            ),
            errors=errors,
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Describe a Modbus TCP endpoint."""
        return await self._network_step(LinkType.TCP, user_input)

    async def async_step_rtu_over_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe a serial server that passes RTU frames over TCP."""
        return await self._network_step(LinkType.RTU_OVER_TCP, user_input)

    async def _network_step(
        self, link_type: LinkType, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Ask for host and port, then connect."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _network_data(link_type, user_input, errors)
            if data is not None and (created := await self._create(data, errors)) is not None:
                return created
        return self.async_show_form(
            step_id=link_type.value,
            data_schema=self.add_suggested_values_to_schema(
                _network_schema(link_type), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where the link goes (a new address, another adapter, other line settings).

        The new settings are tested first. A link that holds the very port or endpoint
        being tested is stopped for the test (a serial port opens only once, many serial
        servers take one connection) and started again afterwards, with the new
        settings if they work, else with the old ones.
        """
        entry = self._get_reconfigure_entry()
        link_type = LinkType(entry.data[CONF_LINK_TYPE])
        serial = link_type is LinkType.SERIAL
        errors: dict[str, str] = {}
        if user_input is not None:
            data = (
                _serial_data(user_input, errors)
                if serial
                else _network_data(link_type, user_input, errors)
            )
            if data is not None and await self._reconfigured(entry, data, errors):
                return self.async_abort(reason="reconfigure_successful")
        if serial:
            self._ports = await self.hass.async_add_executor_job(serial_ports)
        schema = _serial_schema(self._ports) if serial else _network_schema(link_type)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or _form_values(entry.data)
            ),
            errors=errors,
        )

    async def _reconfigured(
        self, entry: ConfigEntry, data: dict[str, Any], errors: dict[str, str]
    ) -> bool:
        """Test the new settings and, if they work, store them; note the error otherwise.

        The link comes up again by its update listener when it was running, else by a
        reload here (also after a failed test, when it was stopped for the test).
        """
        old, new = link_settings(entry.data), link_settings(data)
        if await self._other_entry_on(new, entry) is not None:
            errors[_field(new)] = "endpoint_in_use"
            return False
        stopped = await self._stop_if_holding(entry, old, new)
        opened = await _opens(self.hass, new, errors)
        if opened:
            self.hass.config_entries.async_update_entry(
                entry,
                data=data,
                title=new.describe() if entry.title == old.describe() else entry.title,
                unique_id=link_id(new),
            )
        if stopped or (opened and entry.state is not ConfigEntryState.LOADED):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return opened

    async def _create(
        self, data: dict[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult | None:
        """Create the link if it is new and opens; else abort, or note why it did not open."""
        settings = link_settings(data)
        await self.async_set_unique_id(link_id(settings))
        self._abort_if_unique_id_configured()
        other = await self._other_entry_on(settings)
        if other is not None:
            raise AbortFlow("same_endpoint", description_placeholders={"link": other.title})
        if await _opens(self.hass, settings, errors):
            return self.async_create_entry(title=settings.describe(), data=data)
        return None

    async def _other_entry_on(
        self, settings: LinkSettings, this: ConfigEntry | None = None
    ) -> ConfigEntry | None:
        """Return another link of this integration on the same wire (or with the same id)."""
        others = [
            entry
            for entry in self._async_current_entries(include_ignore=False)
            if this is None or entry.entry_id != this.entry_id
        ]
        same_wire = await self.hass.async_add_executor_job(
            _endpoint_keys, settings, [link_settings(entry.data) for entry in others]
        )
        unique_id = link_id(settings)
        return next(
            (
                entry
                for entry, same in zip(others, same_wire, strict=True)
                if same or entry.unique_id == unique_id
            ),
            None,
        )

    async def _stop_if_holding(
        self, entry: ConfigEntry, old: LinkSettings, new: LinkSettings
    ) -> bool:
        """Unload ``entry`` when it holds the port or endpoint ``new`` goes to; say if it did."""
        if entry.state is not ConfigEntryState.LOADED:
            return False
        if not (await self.hass.async_add_executor_job(_endpoint_keys, new, [old]))[0]:
            return False
        return await self.hass.config_entries.async_unload(entry.entry_id)


# --- Forms and their values --------------------------------------------------------------------
def _port_selector(ports: list[str]) -> selector.SelectSelector:
    """Offer the serial ports found, and take any path the user types."""
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=ports, custom_value=True, mode=selector.SelectSelectorMode.DROPDOWN
        )
    )


def _serial_schema(ports: list[str]) -> vol.Schema:
    """Return the form of a serial port and its baud rate, parity, stop bits and data bits."""
    return vol.Schema(
        {
            vol.Required(CONF_SERIAL_PORT): _port_selector(ports),
            vol.Required(CONF_BAUDRATE): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[str(rate) for rate in SERIAL_BAUDRATES],
                    custom_value=True,
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_PARITY): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(SERIAL_PARITIES), translation_key=CONF_PARITY
                )
            ),
            vol.Required(CONF_STOPBITS): selector.SelectSelector(
                selector.SelectSelectorConfig(options=["1", "2"])
            ),
            vol.Required(CONF_BYTESIZE): selector.SelectSelector(
                selector.SelectSelectorConfig(options=["7", "8"])
            ),
        }
    )


def _network_schema(link_type: LinkType) -> vol.Schema:
    """Host and port of a network link."""
    return vol.Schema(
        {
            vol.Required(CONF_HOST): selector.TextSelector(),
            vol.Required(CONF_PORT, default=_DEFAULT_PORTS[link_type]): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1, max=65535, mode=selector.NumberSelectorMode.BOX
                )
            ),
        }
    )


def _serial_data(user_input: dict[str, Any], errors: dict[str, str]) -> dict[str, Any] | None:
    """Return a serial link's entry data from the form, or None with the error noted."""
    baudrate = str(user_input[CONF_BAUDRATE]).strip()
    if not baudrate.isdecimal() or int(baudrate) == 0:
        errors[CONF_BAUDRATE] = "invalid_baudrate"
        return None
    return {
        CONF_LINK_TYPE: LinkType.SERIAL,
        CONF_SERIAL_PORT: str(user_input[CONF_SERIAL_PORT]).strip(),
        CONF_BAUDRATE: int(baudrate),
        CONF_PARITY: user_input[CONF_PARITY],
        CONF_STOPBITS: int(user_input[CONF_STOPBITS]),
        CONF_BYTESIZE: int(user_input[CONF_BYTESIZE]),
    }


def _network_data(
    link_type: LinkType, user_input: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any] | None:
    """Return a network link's entry data from the form, or None with the error noted."""
    host = str(user_input[CONF_HOST]).strip()
    if not host:
        errors[CONF_HOST] = "invalid_host"
        return None
    return {CONF_LINK_TYPE: link_type, CONF_HOST: host, CONF_PORT: int(user_input[CONF_PORT])}


def _form_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a link's entry data as its form shows it (the choices of a select are text)."""
    return {
        key: str(value) if key in (CONF_BAUDRATE, CONF_STOPBITS, CONF_BYTESIZE) else value
        for key, value in data.items()
        if key != CONF_LINK_TYPE
    }


def _family_line(family: str) -> dict[str, str]:
    """Return the serial settings a device family ships with, as the form's text."""
    for profile in builtin_profiles().values():
        if profile.family == family:
            return {key: str(value) for key, value in serial_defaults(profile).items()}
    return dict(_OTHER_LINE)


def _families() -> list[str]:
    """Return the device families of the shipped profiles."""
    return sorted({profile.family for profile in builtin_profiles().values()})


# --- Blocking helpers (run in the executor) ------------------------------------------------------
def serial_ports() -> list[str]:
    """Return the serial ports found, by their stable ``/dev/serial/by-id`` path where possible."""
    by_id = {
        os.path.realpath(link): str(link)
        for link in sorted(SERIAL_BY_ID.glob("*"))
        if link.is_symlink()
    }
    found = {os.path.realpath(port.device) for port in list_ports.comports()}
    return sorted({by_id.get(device, device) for device in found | set(by_id)})


def _field(settings: LinkSettings) -> str:
    """Return the form field that names where a link goes: its serial port, or its host."""
    return CONF_SERIAL_PORT if settings.kind is LinkKind.RTU else CONF_HOST


def _endpoint_keys(settings: LinkSettings, others: list[LinkSettings]) -> list[bool]:
    """Say for each of ``others`` whether it reaches the same wire as ``settings``."""
    key = link_key(settings)
    return [link_key(other) == key for other in others]


async def _opens(hass: HomeAssistant, settings: LinkSettings, errors: dict[str, str]) -> bool:
    """Open the link once; note ``cannot_open`` (a port) or ``cannot_connect`` (a host) if not.

    An endpoint core already holds a shared connection to (another integration uses it)
    is open: it is not opened a second time.
    """
    if await async_held_by_core(hass, settings):
        return True
    bus = Bus(settings, policy=RetryPolicy(retries=0))
    try:
        await bus.open(_OPEN_TIMEOUT)
    except LinkError:
        errors[_field(settings)] = (
            "cannot_open" if settings.kind is LinkKind.RTU else "cannot_connect"
        )
        return False
    finally:
        bus.close()
    return True
