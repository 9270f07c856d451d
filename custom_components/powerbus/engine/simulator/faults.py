"""Faults the simulator can inject, and the plan that decides how each request is answered.

A :class:`FaultPlan` holds faults in the order they were added. For every request
addressed to a unit on the bus, the server asks the plan for a :class:`Verdict`:
every matching :class:`Delay` adds its seconds, and the oldest matching fault that
changes the answer (:class:`NoAnswer`, :class:`ExceptionAnswer`,
:class:`CorruptFrame`, :class:`DropConnection`) decides the answer. Each fault that
took part uses up one of its ``times``; a fault with ``times=None`` stays until it
is discarded. Faults can be given to the constructor or added and discarded while
the simulator runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ClassVar

from ..errors import ConfigError, DeviceExceptionError
from ..models import Table


class Reply(StrEnum):
    """How the server answers one request."""

    NORMAL = "normal"
    SILENT = "silent"
    EXCEPTION = "exception"
    CORRUPT = "corrupt"
    DROP = "drop"


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """What the server knows about a request when it asks how to answer it.

    ``table`` is None for function codes that address no data table; ``address``
    and ``count`` then are 0.
    """

    unit_id: int
    function_code: int
    table: Table | None
    address: int
    count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """How to answer one request: wait ``delay`` seconds, then answer as ``reply`` says."""

    reply: Reply = Reply.NORMAL
    exception_code: int = 0
    delay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Fault(ABC):
    """A misbehaviour for the requests it matches.

    ``times`` is how many requests it affects (None: every matching request until
    it is discarded). ``unit_id``, ``table`` and ``addresses`` narrow it down; a
    request matches ``addresses`` when any address it touches lies in the range.
    """

    times: int | None = 1
    unit_id: int | None = None
    table: Table | None = None
    addresses: range | None = None

    def __post_init__(self) -> None:
        """Refuse a count that could never strike."""
        if self.times is not None and self.times < 1:
            raise ConfigError("times", "must be at least 1, or None for every request")

    def matches(self, request: Request) -> bool:
        """Whether the fault applies to ``request``."""
        if self.unit_id is not None and request.unit_id != self.unit_id:
            return False
        if self.table is not None and request.table is not self.table:
            return False
        if self.addresses is None:
            return True
        touched = range(request.address, request.address + request.count)
        return request.table is not None and any(address in self.addresses for address in touched)

    @abstractmethod
    def apply(self, verdict: Verdict) -> Verdict | None:
        """Return the verdict with this fault applied, or None when an earlier fault took its place."""

    def describe(self) -> str:
        """Say what the fault does and to which requests, e.g. ``no answer, every request``."""
        if self.times is None:
            scope = "every request"
        else:
            scope = "the next request" if self.times == 1 else f"the next {self.times} requests"
        if self.unit_id is not None:
            scope += f" to unit {self.unit_id}"
        if self.table is not None:
            scope += f" of the {self.table.value} table"
        if self.addresses is not None:
            scope += f" touching {self.addresses.start}..{self.addresses.stop - 1}"
        return f"{self.action()}, {scope}"

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class Delay(Fault):
    """Wait ``seconds`` before answering (delays of several matching faults add up)."""

    seconds: float

    def __post_init__(self) -> None:
        """Refuse a negative delay."""
        super().__post_init__()
        if self.seconds < 0:
            raise ConfigError("seconds", "must not be negative")

    def apply(self, verdict: Verdict) -> Verdict:
        """Add the delay to whatever else the verdict says."""
        return replace(verdict, delay=verdict.delay + self.seconds)

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return f"answer {self.seconds:g} s late"


@dataclass(frozen=True, kw_only=True)
class _AnswerFault(Fault):
    """A fault that replaces the normal answer; only the oldest matching one strikes."""

    reply: ClassVar[Reply]

    def apply(self, verdict: Verdict) -> Verdict | None:
        """Take over the answer unless an earlier fault already did."""
        if verdict.reply is not Reply.NORMAL:
            return None
        return replace(verdict, reply=self.reply)


@dataclass(frozen=True, kw_only=True)
class NoAnswer(_AnswerFault):
    """Stay silent, as a device that missed the request; the master runs into its timeout."""

    reply: ClassVar[Reply] = Reply.SILENT

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return "no answer"


@dataclass(frozen=True, kw_only=True)
class ExceptionAnswer(_AnswerFault):
    """Answer with Modbus exception ``code`` instead of the normal response."""

    reply: ClassVar[Reply] = Reply.EXCEPTION
    code: int

    def __post_init__(self) -> None:
        """Refuse a code that does not fit the one byte of an exception response."""
        super().__post_init__()
        if not 1 <= self.code <= 0xFF:
            raise ConfigError("code", "an exception code is 1..255")

    def apply(self, verdict: Verdict) -> Verdict | None:
        """Take over the answer with the exception code unless an earlier fault already did."""
        applied = super().apply(verdict)
        return None if applied is None else replace(applied, exception_code=self.code)

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return f"answer with {DeviceExceptionError(self.code)}"


@dataclass(frozen=True, kw_only=True)
class CorruptFrame(_AnswerFault):
    """Send the answer damaged: a wrong CRC on RTU, a PDU one byte short on TCP."""

    reply: ClassVar[Reply] = Reply.CORRUPT

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return "damaged answer (wrong CRC on RTU, PDU one byte short on TCP)"


@dataclass(frozen=True, kw_only=True)
class DropConnection(_AnswerFault):
    """Close the master's TCP connection instead of answering (on RTU: stay silent)."""

    reply: ClassVar[Reply] = Reply.DROP

    def action(self) -> str:
        """Name what the fault does to a request it matches."""
        return "close the TCP connection instead of answering (on RTU: no answer)"


class FaultPlan:
    """The faults in force on a simulated bus, consulted once per request."""

    def __init__(self, *faults: Fault) -> None:
        """Start with ``faults`` in force, oldest first."""
        self._pending: list[tuple[Fault, int | None]] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        """Put ``fault`` in force after the ones already there."""
        self._pending.append((fault, fault.times))

    def discard(self, fault: Fault) -> None:
        """Take the oldest fault equal to ``fault`` out of force; nothing if none is left."""
        for index, (candidate, _) in enumerate(self._pending):
            if candidate == fault:
                del self._pending[index]
                return

    def clear(self) -> None:
        """Take every fault out of force."""
        self._pending.clear()

    def in_force(self) -> list[Fault]:
        """Return the faults still in force, oldest first."""
        return [fault for fault, _ in self._pending]

    def judge(self, request: Request) -> Verdict:
        """Decide how to answer ``request`` and use up the faults that took part."""
        verdict = Verdict()
        still_pending: list[tuple[Fault, int | None]] = []
        for fault, remaining in self._pending:
            applied = fault.apply(verdict) if fault.matches(request) else None
            if applied is None:
                still_pending.append((fault, remaining))
                continue
            verdict = applied
            if remaining is None:
                still_pending.append((fault, None))
            elif remaining > 1:
                still_pending.append((fault, remaining - 1))
        self._pending = still_pending
        return verdict
