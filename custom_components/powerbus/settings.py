"""What a config entry and its subentries say, in the engine's terms: link, intervals, devices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
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
    LinkType,
)
from .engine import LinkKind, LinkSettings, PollIntervals, Profile

CONF_HOST = "host"
CONF_PORT = "port"

_KINDS = {
    LinkType.SERIAL: LinkKind.RTU,
    LinkType.TCP: LinkKind.TCP,
    LinkType.RTU_OVER_TCP: LinkKind.RTU_OVER_TCP,
}


def link_settings(data: Mapping[str, Any]) -> LinkSettings:
    """Return the engine's settings of the link a config entry describes."""
    link_type = LinkType(data[CONF_LINK_TYPE])
    if link_type is LinkType.SERIAL:
        return LinkSettings(
            kind=LinkKind.RTU,
            serial_port=data[CONF_SERIAL_PORT],
            baudrate=int(data[CONF_BAUDRATE]),
            parity=str(data[CONF_PARITY]),
            stopbits=int(data[CONF_STOPBITS]),
            bytesize=int(data[CONF_BYTESIZE]),
        )
    return LinkSettings(kind=_KINDS[link_type], host=data[CONF_HOST], port=int(data[CONF_PORT]))


def serial_defaults(profile: Profile) -> dict[str, Any]:
    """Return the serial line settings a device family ships with, as form defaults."""
    line = profile.transport
    return {
        CONF_BAUDRATE: line.baudrate,
        CONF_PARITY: line.parity,
        CONF_STOPBITS: line.stopbits,
        CONF_BYTESIZE: line.bytesize,
    }


def poll_intervals(options: Mapping[str, Any]) -> PollIntervals:
    """Return the poll intervals a link's options ask for (the defaults where none)."""
    return PollIntervals(
        fast=float(options.get(CONF_FAST_INTERVAL, DEFAULT_FAST_INTERVAL)),
        normal=float(options.get(CONF_NORMAL_INTERVAL, DEFAULT_NORMAL_INTERVAL)),
        slow=float(options.get(CONF_SLOW_INTERVAL, DEFAULT_SLOW_INTERVAL)),
    )
