"""The one rule for stable ids: of a link, of a device, and of each of its entities.

- A **link id** names a physical link the way the user configured it:
  ``tcp_192_168_1_10_502``, ``rtutcp_gw_local_4001`` or, for a serial port,
  the slug of the path as given (``rtu_dev_serial_by_id_usb_ftdi_ft232r_...``).
  Configure serial ports by their stable ``/dev/serial/by-id/`` path, so that the id
  survives a reboot that renumbers ``/dev/ttyUSB*``.
- A **device uid** is ``<family>_<serial number>`` when the device reports a serial
  number, so that it stays the same when the meter moves to another link or unit id.
  The family is part of it because two makers may hand out the same number. A device
  without a readable serial number gets ``<family>_<link id>_u<unit id>``.
- An **entity unique id** is ``<device uid>_<entity key>``.

Both front ends (the Home Assistant integration and the MQTT bridge) take their ids
from here, so one device has the same unique ids wherever it is published.
"""

from __future__ import annotations

import re

from .link import LinkKind, LinkSettings

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lower-case ``text`` and join its runs of letters and digits with ``_``."""
    return _NOT_SLUG.sub("_", text.lower()).strip("_")


def link_id(settings: LinkSettings) -> str:
    """Return the stable id of a link, from its configured address (not its resolved one)."""
    if settings.kind is LinkKind.RTU:
        return f"rtu_{slug(settings.serial_port)}"
    prefix = "rtutcp" if settings.kind is LinkKind.RTU_OVER_TCP else "tcp"
    return f"{prefix}_{slug(settings.host)}_{settings.port}"


def device_uid(family: str, serial: str | None, link: str, unit: int) -> str:
    """Return the stable id of a device: by serial number where it has one, else by link and unit."""
    if serial is not None and slug(serial):
        return f"{family}_{slug(serial)}"
    return f"{family}_{link}_u{unit}"


def entity_unique_id(device: str, key: str) -> str:
    """Return the unique id of one entity of a device."""
    return f"{device}_{key}"
