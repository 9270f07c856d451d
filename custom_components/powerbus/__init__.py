"""The Powerbus integration: Modbus power equipment in Home Assistant."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType

DOMAIN = "powerbus"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration; links and devices are added in the UI."""
    return True
