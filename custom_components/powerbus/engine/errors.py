"""The one exception hierarchy of the Powerbus engine.

Every error the engine raises derives from :class:`PowerbusError`, so a caller can
catch the root last. Transport errors from pymodbus are translated at the adapter
boundary (``transport.py``) and never leave it.
"""

from __future__ import annotations


class PowerbusError(Exception):
    """Root of every error raised by the engine."""


class ProfileError(PowerbusError):
    """A device profile is malformed; the message names file, point and field."""

    def __init__(
        self, file: str, message: str, *, point: str | None = None, field: str | None = None
    ) -> None:
        """Build the message from where the problem is and what it is."""
        self.file = file
        self.point = point
        self.field = field
        where = file
        if point is not None:
            where += f", point '{point}'"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class ConfigError(PowerbusError):
    """A user setting is invalid; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        """Name the offending key in the message."""
        self.key = key
        super().__init__(f"{key}: {message}")


class ModbusError(PowerbusError):
    """Root of the errors that come from talking to a device."""


class LinkError(ModbusError):
    """The link (TCP connection or serial port) is down or could not be opened."""


class RequestTimeoutError(ModbusError):
    """The device did not answer a request within its timeout."""


class DeviceExceptionError(ModbusError):
    """The device answered with a Modbus exception response."""

    NAMES: dict[int, str] = {
        0x01: "illegal function",
        0x02: "illegal data address",
        0x03: "illegal data value",
        0x04: "server device failure",
        0x05: "acknowledge",
        0x06: "server device busy",
        0x08: "memory parity error",
        0x0A: "gateway path unavailable",
        0x0B: "gateway target device failed to respond",
    }

    def __init__(self, code: int) -> None:
        """Keep the exception code and describe it."""
        self.code = code
        name = self.NAMES.get(code, "unknown exception")
        super().__init__(f"device exception 0x{code:02X} ({name})")

    @property
    def is_illegal_address(self) -> bool:
        """Whether the device refused the addresses it was asked for."""
        return self.code == 0x02

    @property
    def is_gateway_path(self) -> bool:
        """Whether a gateway reports the target unreachable (the gateway itself is up)."""
        return self.code in (0x0A, 0x0B)


class DecodeError(ModbusError):
    """A response could not be decoded into the expected value."""


class WriteValidationError(PowerbusError):
    """A write or command was refused before anything was sent to the device."""


class ConfirmationRequiredError(WriteValidationError):
    """A dangerous action was requested without the explicit confirmation."""


class CommandFailedError(PowerbusError):
    """A device command ran but its read-back check reported a failure."""

    def __init__(self, command: str, outcome: str, message: str) -> None:
        """Keep the command key and the outcome key reported by the device."""
        self.command = command
        self.outcome = outcome
        super().__init__(f"{command}: {message}")
