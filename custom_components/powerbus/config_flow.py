"""Set up a link in the UI: a serial port, a Modbus TCP endpoint or a serial server.

The link is tested before anything is created: a serial port must open with the
line settings given, a TCP endpoint must accept a connection. Devices are then
added to the link as subentries (``device_flow.py``). The options set the poll
interval of each poll group and whether raw writes outside the profiles are allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers import selector
from serial.tools import list_ports
import voluptuous as vol

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_EXPERT_WRITES,
    CONF_FAMILY,
    CONF_FAST_INTERVAL,
    CONF_LINK_TYPE,
    CONF_NORMAL_INTERVAL,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_SLOW_INTERVAL,
    CONF_STOPBITS,
    DEFAULT_FAST_INTERVAL,
    DEFAULT_NORMAL_INTERVAL,
    DEFAULT_SLOW_INTERVAL,
    DOMAIN,
    MAX_INTERVAL,
    MIN_INTERVAL,
    SERIAL_BAUDRATES,
    SERIAL_PARITIES,
    SUBENTRY_DEVICE,
    LinkType,
)
from .device_flow import DeviceSubentryFlow
from .engine import Bus, LinkError, RetryPolicy, builtin_profiles, link_id
from .settings import CONF_HOST, CONF_PORT, link_settings, serial_defaults

_OPEN_TIMEOUT = 3.0
_DEFAULT_PORTS = {LinkType.TCP: 502, LinkType.RTU_OVER_TCP: 4001}
_OTHER_FAMILY = "other"
SERIAL_BY_ID = "/dev/serial/by-id"


class PowerbusConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a link: choose how it reaches the devices, describe it, test it."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._serial: dict[str, Any] = {}

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
            self._serial = {CONF_SERIAL_PORT: user_input[CONF_SERIAL_PORT]}
            family = user_input.get(CONF_FAMILY, _OTHER_FAMILY)
            self._serial.update(_family_line(family))
            return await self.async_step_serial_line()
        ports = await self.hass.async_add_executor_job(_serial_ports)
        return self.async_show_form(
            step_id="serial",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_SERIAL_PORT): selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=ports,
                            custom_value=True,
                            mode=selector.SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Required(CONF_FAMILY, default=_OTHER_FAMILY): selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=[*_families(), _OTHER_FAMILY],
                            translation_key="family",
                            mode=selector.SelectSelectorMode.DROPDOWN,
                        )
                    ),
                }
            ),
        )

    async def async_step_serial_line(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the line settings (defaulted from the device family) and open the port."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                CONF_LINK_TYPE: LinkType.SERIAL,
                CONF_SERIAL_PORT: self._serial[CONF_SERIAL_PORT],
                **{key: _line_value(key, value) for key, value in user_input.items()},
            }
            result = await self._create_if_it_opens(data, errors, CONF_SERIAL_PORT)
            if result is not None:
                return result
        return self.async_show_form(
            step_id="serial_line",
            data_schema=self.add_suggested_values_to_schema(_serial_line_schema(), self._serial),
            errors=errors,
            description_placeholders={"port": self._serial.get(CONF_SERIAL_PORT, "")},
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Describe a Modbus TCP endpoint."""
        return await self._network_step(LinkType.TCP, user_input)

    async def async_step_rtu_over_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe a serial server that passes RTU frames over TCP."""
        return await self._network_step(LinkType.RTU_OVER_TCP, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where the link goes (a new IP address, another adapter), testing it first."""
        entry = self._get_reconfigure_entry()
        link_type = LinkType(entry.data[CONF_LINK_TYPE])
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            if link_type is LinkType.SERIAL:
                data = {
                    **data,
                    **{
                        k: _line_value(k, v) for k, v in user_input.items() if k != CONF_SERIAL_PORT
                    },
                }
            field = CONF_SERIAL_PORT if link_type is LinkType.SERIAL else CONF_HOST
            if await self._opens(data, errors, field):
                self.hass.config_entries.async_update_entry(
                    entry, data=data, title=_title(data), unique_id=link_id(link_settings(data))
                )
                return self.async_abort(reason="reconfigure_successful")
        schema = (
            _serial_line_schema(with_port=True)
            if link_type is LinkType.SERIAL
            else _network_schema(link_type)
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, entry.data),
            errors=errors,
        )

    async def _network_step(
        self, link_type: LinkType, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Ask for host and port, then connect."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_LINK_TYPE: link_type, **user_input}
            result = await self._create_if_it_opens(data, errors, CONF_HOST)
            if result is not None:
                return result
        return self.async_show_form(
            step_id=link_type.value,
            data_schema=self.add_suggested_values_to_schema(
                _network_schema(link_type), user_input or {}
            ),
            errors=errors,
        )

    async def _create_if_it_opens(
        self, data: dict[str, Any], errors: dict[str, str], field: str
    ) -> ConfigFlowResult | None:
        """Create the entry if the link is new and opens; else note the error on ``field``."""
        await self.async_set_unique_id(link_id(link_settings(data)))
        self._abort_if_unique_id_configured()
        if await self._opens(data, errors, field):
            return self.async_create_entry(title=_title(data), data=data)
        return None

    async def _opens(self, data: dict[str, Any], errors: dict[str, str], field: str) -> bool:
        """Open the link once; note ``cannot_open`` or ``cannot_connect`` on ``field`` if not."""
        settings = link_settings(data)
        bus = Bus(settings, policy=RetryPolicy(retries=0))
        try:
            await bus.open(_OPEN_TIMEOUT)
        except LinkError:
            errors[field] = "cannot_open" if field == CONF_SERIAL_PORT else "cannot_connect"
            return False
        finally:
            bus.close()
        return True


class PowerbusOptionsFlow(OptionsFlow):
    """How often each poll group is read, and whether raw writes may leave the profiles."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and take the options."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        seconds = selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=MIN_INTERVAL,
                max=MAX_INTERVAL,
                step=0.1,
                unit_of_measurement="s",
                mode=selector.NumberSelectorMode.BOX,
            )
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_FAST_INTERVAL, default=DEFAULT_FAST_INTERVAL): seconds,
                vol.Required(CONF_NORMAL_INTERVAL, default=DEFAULT_NORMAL_INTERVAL): seconds,
                vol.Required(CONF_SLOW_INTERVAL, default=DEFAULT_SLOW_INTERVAL): seconds,
                vol.Required(CONF_EXPERT_WRITES, default=False): selector.BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
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


def _serial_line_schema(*, with_port: bool = False) -> vol.Schema:
    """Baud rate, parity, stop bits and data bits (and the port when reconfiguring)."""
    fields: dict[vol.Marker, Any] = {}
    if with_port:
        fields[vol.Required(CONF_SERIAL_PORT)] = selector.TextSelector()
    fields.update(
        {
            vol.Required(CONF_BAUDRATE): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[str(rate) for rate in SERIAL_BAUDRATES],
                    custom_value=True,
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_PARITY): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(SERIAL_PARITIES), translation_key="parity"
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
    return vol.Schema(fields)


def _line_value(key: str, value: Any) -> Any:
    """Return a serial setting from the form as the link stores it (numbers as numbers)."""
    if key in (CONF_BAUDRATE, CONF_STOPBITS, CONF_BYTESIZE, CONF_PORT):
        return int(value)
    return value


def _family_line(family: str) -> dict[str, Any]:
    """Return the serial settings a device family ships with (defaults for others)."""
    for profile in builtin_profiles().values():
        if profile.family == family:
            return {key: str(value) for key, value in serial_defaults(profile).items()}
    return {CONF_BAUDRATE: "9600", CONF_PARITY: "E", CONF_STOPBITS: "1", CONF_BYTESIZE: "8"}


def _families() -> list[str]:
    """Return the device families of the shipped profiles."""
    return sorted({profile.family for profile in builtin_profiles().values()})


def _serial_ports() -> list[str]:
    """Return the serial ports found, by their stable ``/dev/serial/by-id`` path where possible.

    Blocking (it reads the file system): the flow runs it in the executor.
    """
    by_id = {
        os.path.realpath(link): str(link)
        for link in sorted(Path(SERIAL_BY_ID).glob("*"))
        if Path(link).is_symlink()
    }
    found = {os.path.realpath(port.device) for port in list_ports.comports()}
    return sorted({by_id.get(device, device) for device in found | set(by_id)})


def _title(data: dict[str, Any]) -> str:
    """Return the name of a link as the user configured it."""
    return link_settings(data).describe()
