"""The Powerbus integration: Modbus power equipment in Home Assistant.

Home Assistant modules are imported for type checking only at module level, so that
the HA-free engine in ``engine/`` can be imported (by the CLI and the MQTT bridge)
where Home Assistant is not installed: importing ``custom_components.powerbus.engine``
runs this file first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

DOMAIN = "powerbus"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration; devices are added as config entries."""
    return True
