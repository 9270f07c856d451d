"""Constants of the Powerbus integration: its domain, configuration keys and defaults."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "powerbus"
LOGGER = logging.getLogger(__package__)

# --- A link (the config entry) ----------------------------------------------------------------
LINK_VERSION: Final = 1
LINK_MINOR_VERSION: Final = 1
"""The format of a link's stored config entry; async_migrate_entry reads older ones."""
CONF_LINK_TYPE: Final = "link_type"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_BYTESIZE: Final = "bytesize"
CONF_FAMILY: Final = "family"
"""The device family whose serial defaults the link was set up with (a hint, not a rule)."""


class LinkType(StrEnum):
    """How the link reaches its devices."""

    SERIAL = "serial"
    TCP = "tcp"
    RTU_OVER_TCP = "rtu_over_tcp"


# --- Options of a link ------------------------------------------------------------------------
CONF_FAST_INTERVAL: Final = "fast_interval"
CONF_NORMAL_INTERVAL: Final = "normal_interval"
CONF_SLOW_INTERVAL: Final = "slow_interval"
CONF_EXPERT_WRITES: Final = "expert_writes"
"""Let ``powerbus.write_register`` write registers no profile declares writable."""
DEFAULT_FAST_INTERVAL: Final = 2.0
DEFAULT_NORMAL_INTERVAL: Final = 10.0
DEFAULT_SLOW_INTERVAL: Final = 60.0
MIN_INTERVAL: Final = 1.0
"""Home Assistant's coordinators schedule to whole seconds: a shorter interval would spin."""
MAX_INTERVAL: Final = 3600.0

# --- A device (a config subentry) -------------------------------------------------------------
SUBENTRY_DEVICE: Final = "device"
CONF_PROFILE: Final = "profile"
CONF_UNIT: Final = "unit"
CONF_SERIAL_NUMBER: Final = "serial_number"
"""The serial number the device reported when it was added (None where it has none)."""
CONF_LEARNED: Final = "learned_refusals"

SERIAL_PARITIES: Final = ("N", "E", "O")
SERIAL_BAUDRATES: Final = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
