"""The one exception hierarchy of the Powerbus engine.

Every error the engine raises derives from :class:`PowerbusError`, so a caller can
catch the root last. Transport errors from pymodbus are translated at the adapter
boundary (``transport.py``) and never leave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class PowerbusError(Exception):
    """Root of every error raised by the engine."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProfileProblem:
    """One mistake in a profile file, and where it is.

    ``point``, ``command``, ``switch`` and ``variant`` name the item that holds the
    mistake (at most one of them); ``field`` is the field inside it (or inside the file, for a
    top-level field), in the file's own words; ``line`` is given when it is known.
    """

    file: str
    message: str
    point: str | None = None
    command: str | None = None
    switch: str | None = None
    variant: str | None = None
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        """One line: ``file, line N, point 'x', field 'y': message``."""
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        for kind, name in (
            ("point", self.point),
            ("command", self.command),
            ("switch", self.switch),
            ("variant", self.variant),
            ("field", self.field),
        ):
            if name is not None:
                where.append(f"{kind} '{name}'")
        return f"{', '.join(where)}: {self.message}"


class ProfileError(PowerbusError):
    """A profile file is malformed, or a profile is unknown; each problem says where.

    ``problems`` holds every mistake found in the file, in the order they were
    found, each naming the file, the item and the field; ``str(err)`` gives one line
    per problem. ``file`` is the file of the first.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        point: str | None = None,
        command: str | None = None,
        variant: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        """Describe one problem: what it is and where."""
        problem = ProfileProblem(
            file=file,
            message=message,
            point=point,
            command=command,
            variant=variant,
            field=field,
            line=line,
        )
        self._set_problems((problem,))

    @classmethod
    def of(cls, problems: Iterable[ProfileProblem]) -> ProfileError:
        """Return one error holding every problem of ``problems`` (at least one)."""
        listed = tuple(problems)
        if not listed:
            raise ValueError("a profile error needs at least one problem")
        first = listed[0]
        error = cls(first.file, first.message)
        error._set_problems(listed)
        return error

    def _set_problems(self, problems: tuple[ProfileProblem, ...]) -> None:
        """Keep the problems; the message lists them one per line."""
        self.problems = problems
        self.file = problems[0].file
        self.args = ("\n".join(str(problem) for problem in problems),)

    def __str__(self) -> str:
        """Every problem, one line each."""
        return str(self.args[0])


class ProblemLog:
    """Collects the problems found in one profile file, to report them all at once.

    ``problems`` lists each problem once, in the order found; ``reported`` counts
    every report, repeats included, so a check that compares it before and after
    knows whether it found a problem.
    """

    def __init__(self, file: str) -> None:
        """Start an empty log for ``file`` (the path as the user gave it)."""
        self.file = file
        self.problems: list[ProfileProblem] = []
        self.reported = 0
        self._noted: set[ProfileProblem] = set()

    def add(
        self,
        message: str,
        *,
        point: str | None = None,
        command: str | None = None,
        switch: str | None = None,
        variant: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        """Note one problem and where it is; a problem reported again is listed once."""
        problem = ProfileProblem(
            file=self.file,
            message=message,
            point=point,
            command=command,
            switch=switch,
            variant=variant,
            field=field,
            line=line,
        )
        self.reported += 1
        if problem not in self._noted:
            self._noted.add(problem)
            self.problems.append(problem)

    def add_in(
        self,
        item: Mapping[str, str],
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        """Note a problem in ``item``: ``{"point": key}`` (or command, switch, variant), or ``{}``."""
        self.add(
            message,
            point=item.get("point"),
            command=item.get("command"),
            switch=item.get("switch"),
            variant=item.get("variant"),
            field=field,
            line=line,
        )

    def error(self) -> ProfileError:
        """Return one ProfileError holding every problem noted (at least one)."""
        return ProfileError.of(self.problems)

    def raise_if_any(self) -> None:
        """Raise one ProfileError holding every problem noted, if there is one."""
        if self.problems:
            raise self.error()


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
