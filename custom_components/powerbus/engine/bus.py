"""The bus owner: one per physical link, shared by every device on it.

The bus runs strictly one transaction at a time over its :class:`~.transport.Transport`.
Before each request it keeps the silence the devices need (the profile's minimum
spacing, the RTU frame silence, and an extra pause when the unit id changes), it
retries timeouts and busy answers with exponential backoff, reopens a lost link (a
dropped TCP connection, a serial adapter that vanished and came back), and keeps
statistics per unit.

Jobs of several requests (a device's poll, a command) take a *turn* on the bus:
commands and writes are granted the line before any poll that waits, so a write is
never queued behind a whole round of polls. Time is read from an injected clock,
so tests run the bus without waiting.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
import logging
import time
from typing import Self, TypeVar

from .adapter.client import PymodbusTransport
from .errors import DecodeError, DeviceExceptionError, LinkError, ModbusError, RequestTimeoutError
from .link import LinkSettings
from .models import BusLimits, Table
from .transport import TransportFactory
from .turns import Priority, Turns

_LOGGER = logging.getLogger(__name__)

DEVICE_BUSY = 0x06
# Back-offs stop doubling after this many failures (a float overflows after 1023 doublings).
_MAX_DOUBLINGS = 32
_T = TypeVar("_T")
DEFAULT_LIMITS = BusLimits()


@dataclass(kw_only=True)
class DeviceStats:
    """What one unit on a bus has cost and how it has behaved."""

    requests: int = 0
    responses: int = 0
    retries: int = 0
    timeouts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    bytes_received: int = 0
    latency_last: float = 0.0
    latency_max: float = 0.0
    latency_total: float = 0.0
    last_success: float | None = None

    @property
    def latency_mean(self) -> float:
        """Mean seconds from request to answer over every answered request."""
        return self.latency_total / self.responses if self.responses else 0.0

    def as_dict(self) -> dict[str, object]:
        """Return the statistics as plain data (diagnostics, JSON output)."""
        return {
            "requests": self.requests,
            "responses": self.responses,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "errors": dict(self.errors),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "latency_last_ms": round(self.latency_last * 1000, 2),
            "latency_mean_ms": round(self.latency_mean * 1000, 2),
            "latency_max_ms": round(self.latency_max * 1000, 2),
            "last_success": self.last_success,
        }


def error_kind(err: ModbusError) -> str:
    """Name the statistics bucket of an error."""
    if isinstance(err, DeviceExceptionError):
        return f"exception_{err.code:02x}"
    if isinstance(err, RequestTimeoutError):
        return "timeout"
    if isinstance(err, LinkError):
        return "link"
    if isinstance(err, DecodeError):
        return "decode"
    return "other"


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how patiently the bus repeats a failed request."""

    retries: int = 2
    backoff: float = 0.05
    backoff_max: float = 2.0
    reconnect_backoff: float = 1.0
    reconnect_backoff_max: float = 30.0


class Bus:
    """Owns one link and serialises every transaction on it."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        policy: RetryPolicy | None = None,
        unit_switch_delay: float | None = None,
        transport_factory: TransportFactory = PymodbusTransport,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Prepare the bus; the link opens on the first request (or ``open()``).

        ``clock`` (monotonic seconds) and ``sleep`` pace requests, retries and
        reconnects; tests pass a fake pair so that nothing waits.
        """
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.unit_switch_delay = (
            unit_switch_delay
            if unit_switch_delay is not None
            else (0.005 if settings.kind.is_rtu else 0.0)
        )
        self._link = transport_factory(settings, self._count_traffic)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._turns = Turns()
        self._sessions: dict[tuple[int, str], asyncio.Lock] = {}
        self._stats: dict[int, DeviceStats] = {}
        self._current_unit: int | None = None
        self._last_unit: int | None = None
        self._last_end = 0.0
        self._failed_opens = 0
        self._next_open_at = 0.0
        self._reconnect_backoff_max = self.policy.reconnect_backoff_max
        self.epoch = 0
        """Counts the times the link was (re)connected; a change means a (re)connect.

        Reopening the link only to drop a late answer after a timeout does not count:
        the devices on the line are the same, and a dead one must not make the others
        read their identity and every group again at each of its timeouts."""
        self._dropping_late_answer = False

    async def __aenter__(self) -> Self:
        """Open the link."""
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the link."""
        self.close()

    def turn(self, priority: Priority) -> AbstractAsyncContextManager[None]:
        """Hold the line for a job of several requests; commands go before polls."""
        return self._turns.hold(priority)

    def limit_reconnect_backoff(self, seconds: float) -> None:
        """Never wait longer than ``seconds`` before trying to reopen a lost link.

        Device sessions set this to their fastest poll interval, so that a device
        that comes back is read again within a poll or two.
        """
        self._reconnect_backoff_max = min(self._reconnect_backoff_max, max(seconds, 0.0))

    def stats(self, unit: int) -> DeviceStats:
        """Statistics of ``unit`` on this bus (created on first use)."""
        return self._stats.setdefault(unit, DeviceStats())

    @property
    def connected(self) -> bool:
        """Whether the link is open right now."""
        return self._link.connected

    async def open(self, timeout: float = 3.0) -> None:
        """Open the link now; LinkError if that fails."""
        async with self._lock:
            await self._ensure_open(timeout)

    def close(self) -> None:
        """Close the link."""
        self._dropping_late_answer = False
        self._link.close()

    @asynccontextmanager
    async def session(self, unit: int, name: str) -> AsyncIterator[None]:
        """Hold the device-side session ``name`` of ``unit`` (one at a time per device)."""
        lock = self._sessions.setdefault((unit, name), asyncio.Lock())
        async with lock:
            yield

    async def read(
        self,
        unit: int,
        table: Table,
        address: int,
        count: int,
        limits: BusLimits = DEFAULT_LIMITS,
        *,
        retries: int | None = None,
        reopen_after_timeout: bool = True,
    ) -> list[int] | list[bool]:
        """Read ``count`` items of ``table`` from ``unit``; ``retries`` overrides the policy's.

        After a timeout the link is reopened, so that a late answer is never taken for
        the next one. A caller whose next request goes to another unit (a scan) may keep
        the link open instead: the transport takes only an answer from the unit asked.
        """
        timeout = limits.request_timeout(count)
        return await self._transact(
            unit,
            limits,
            lambda: self._link.read(table, address, count, unit, timeout),
            timeout,
            retries=retries,
            reopen_after_timeout=reopen_after_timeout,
        )

    async def write_registers(
        self, unit: int, address: int, values: list[int], limits: BusLimits = DEFAULT_LIMITS
    ) -> None:
        """Write holding registers of ``unit``.

        A write is sent again only when it surely did not happen: the link could not
        be opened, or the device answered "busy". After a timeout the device may have
        carried it out and only the answer was lost, and a command register (a reset,
        a transfer) must not act twice.
        """
        timeout = limits.request_timeout(len(values))
        await self._transact(
            unit,
            limits,
            lambda: self._link.write_registers(address, values, unit, timeout),
            timeout,
            repeatable=False,
        )

    async def write_coils(
        self, unit: int, address: int, values: list[bool], limits: BusLimits = DEFAULT_LIMITS
    ) -> None:
        """Write coils of ``unit``; retried as :meth:`write_registers` is."""
        timeout = limits.request_timeout(len(values))
        await self._transact(
            unit,
            limits,
            lambda: self._link.write_coils(address, values, unit, timeout),
            timeout,
            repeatable=False,
        )

    async def _transact(
        self,
        unit: int,
        limits: BusLimits,
        request: Callable[[], Awaitable[_T]],
        timeout: float,
        *,
        retries: int | None = None,
        repeatable: bool = True,
        reopen_after_timeout: bool = True,
    ) -> _T:
        """Run one request under the bus lock with spacing, retries and reconnects.

        A request that is not ``repeatable`` (a write) is retried only when it was
        never sent or the device answered "busy". A timeout reopens the link unless
        ``reopen_after_timeout`` is False.
        """
        stats = self.stats(unit)
        allowed = self.policy.retries if retries is None else retries
        attempt = 0
        while True:
            sent = False
            try:
                async with self._lock:
                    await self._ensure_open(timeout)
                    await self._keep_silence(unit, limits)
                    self._current_unit = unit
                    stats.requests += 1
                    started = self._clock()
                    sent = True
                    try:
                        result = await request()
                    finally:
                        self._last_end = self._clock()
                        self._last_unit = unit
                        self._current_unit = None
                    latency = self._last_end - started
                    stats.responses += 1
                    stats.latency_last = latency
                    stats.latency_total += latency
                    stats.latency_max = max(stats.latency_max, latency)
                    stats.last_success = time.time()
                    return result
            except ModbusError as err:
                stats.errors[error_kind(err)] += 1
                if isinstance(err, RequestTimeoutError):
                    stats.timeouts += 1
                if isinstance(err, LinkError) or (
                    isinstance(err, RequestTimeoutError) and reopen_after_timeout
                ):
                    # A late answer must never be taken for the next request's (RTU frames
                    # carry no transaction id): start the next attempt on a fresh link.
                    self._dropping_late_answer = isinstance(err, RequestTimeoutError)
                    self._link.close()
                if (
                    not self._worth_retrying(err)
                    or attempt >= allowed
                    or (sent and not repeatable and not _is_busy(err))
                ):
                    raise
                attempt += 1
                stats.retries += 1
                delay = min(self.policy.backoff * 2 ** (attempt - 1), self.policy.backoff_max)
                _LOGGER.debug("unit %s: %s; retry %s in %.3f s", unit, err, attempt, delay)
                await self._sleep(delay)

    @staticmethod
    def _worth_retrying(err: ModbusError) -> bool:
        """Timeouts, lost links and busy devices may succeed on a second try."""
        if isinstance(err, DeviceExceptionError):
            return _is_busy(err)
        return isinstance(err, RequestTimeoutError | LinkError)

    async def _ensure_open(self, timeout: float) -> None:
        """Open the link if it is closed, backing off after failed attempts."""
        if self._link.connected:
            return
        now = self._clock()
        if now < self._next_open_at:
            raise LinkError(
                f"{self.settings.describe()} is down; next attempt in {self._next_open_at - now:.1f} s"
            )
        try:
            await self._link.open(max(timeout, 1.0))
        except LinkError:
            self._failed_opens += 1
            pause = min(
                self.policy.reconnect_backoff * 2.0 ** min(self._failed_opens - 1, _MAX_DOUBLINGS),
                self._reconnect_backoff_max,
            )
            self._next_open_at = self._clock() + pause
            raise
        if self._failed_opens:
            _LOGGER.info("%s is open again", self.settings.describe())
        self._failed_opens = 0
        self._next_open_at = 0.0
        self._last_unit = None
        if not self._dropping_late_answer:
            self.epoch += 1
        self._dropping_late_answer = False

    async def _keep_silence(self, unit: int, limits: BusLimits) -> None:
        """Wait until the line has been quiet long enough for the next request."""
        quiet = limits.min_spacing
        if self.settings.kind.is_rtu:
            quiet = max(quiet, self.settings.frame_silence)
        if self._last_unit is not None and self._last_unit != unit:
            quiet += self.unit_switch_delay
        remaining = self._last_end + quiet - self._clock()
        if remaining > 0:
            await self._sleep(remaining)

    def _count_traffic(self, sent: bool, nbytes: int) -> None:
        """Book the bytes of a frame to the unit whose transaction is running."""
        if self._current_unit is None:
            return
        stats = self.stats(self._current_unit)
        if sent:
            stats.bytes_sent += nbytes
        else:
            stats.bytes_received += nbytes


def _is_busy(err: ModbusError) -> bool:
    """Whether the device answered "busy": it did nothing and asks to be asked again."""
    return isinstance(err, DeviceExceptionError) and err.code == DEVICE_BUSY
