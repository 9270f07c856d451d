"""Settings of one physical Modbus link, and the link URLs users type.

A link is ``tcp://HOST:PORT`` (Modbus TCP), ``rtu+tcp://HOST:PORT`` (RTU frames
through a TCP serial server) or ``rtu:///dev/ttyUSB0?baudrate=9600&parity=E``
(RTU on a local serial port). The serial query keys are ``baudrate``, ``parity``
(N, E or O), ``stopbits`` and ``bytesize``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import parse_qsl, urlsplit

from .errors import ConfigError
from .models import TransportDefaults

RTU_BITS_PER_CHARACTER = 11
DEFAULT_SERIAL = TransportDefaults()


class LinkKind(StrEnum):
    """How Modbus frames travel."""

    TCP = "tcp"
    RTU = "rtu"
    RTU_OVER_TCP = "rtu+tcp"

    @property
    def is_rtu(self) -> bool:
        """Whether frames are RTU frames (unit id + PDU + CRC, no transaction id)."""
        return self is not LinkKind.TCP


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkSettings:
    """Where a link goes and, for serial links, how the line is set."""

    kind: LinkKind
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int | None = None
    parity: str | None = None
    stopbits: int | None = None
    bytesize: int | None = None

    @property
    def character_time(self) -> float:
        """Seconds one RTU character takes on the line (11 bits with start/parity/stop)."""
        return RTU_BITS_PER_CHARACTER / (self.baudrate or DEFAULT_SERIAL.baudrate)

    @property
    def frame_silence(self) -> float:
        """The 3.5-character silence that ends an RTU frame (1.75 ms above 19200 Bd)."""
        if (self.baudrate or DEFAULT_SERIAL.baudrate) > 19200:
            return 0.00175
        return 3.5 * self.character_time

    def describe(self) -> str:
        """Describe the link briefly, for logs and tables."""
        if self.kind is LinkKind.RTU:
            line = self.resolve(DEFAULT_SERIAL)
            return f"rtu://{self.serial_port} {line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"
        return f"{self.kind.value}://{self.host}:{self.port}"

    def resolve(self, defaults: TransportDefaults) -> LinkSettings:
        """Fill in a profile's serial defaults wherever the user named none."""
        return replace(
            self,
            baudrate=self.baudrate or defaults.baudrate,
            parity=self.parity or defaults.parity,
            stopbits=self.stopbits or defaults.stopbits,
            bytesize=self.bytesize or defaults.bytesize,
        )


_SERIAL_KEYS = {"baudrate": int, "stopbits": int, "bytesize": int, "parity": str}


def parse_link(url: str) -> LinkSettings:
    """Parse a link URL; a bad URL raises ConfigError naming the part that is wrong."""
    parts = urlsplit(url)
    try:
        kind = LinkKind(parts.scheme)
    except ValueError:
        raise ConfigError(
            "link", f"unknown scheme '{parts.scheme}' in '{url}' (use tcp://, rtu+tcp:// or rtu://)"
        ) from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    serial: dict[str, int | str] = {}
    for key, value in query.items():
        if key not in _SERIAL_KEYS:
            raise ConfigError(f"link.{key}", f"unknown setting (known: {', '.join(_SERIAL_KEYS)})")
        try:
            serial[key] = _SERIAL_KEYS[key](value.upper() if key == "parity" else value)
        except ValueError:
            raise ConfigError(f"link.{key}", f"'{value}' is not a number") from None
    if serial.get("parity", "E") not in ("N", "E", "O"):
        raise ConfigError("link.parity", "must be N, E or O")
    if kind is LinkKind.RTU:
        if not parts.path:
            raise ConfigError("link", "rtu:// needs a serial port path, e.g. rtu:///dev/ttyUSB0")
        return LinkSettings(kind=kind, serial_port=parts.path, **serial)  # type: ignore[arg-type]
    if serial:
        raise ConfigError("link", f"serial settings do not apply to {kind.value}:// links")
    if not parts.hostname:
        raise ConfigError(
            "link", f"{kind.value}:// needs a host, e.g. {kind.value}://127.0.0.1:502"
        )
    try:
        port = parts.port or 502
    except ValueError:
        raise ConfigError("link.port", f"not a valid port in '{url}'") from None
    return LinkSettings(kind=kind, host=parts.hostname, port=port)
