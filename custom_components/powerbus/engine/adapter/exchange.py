"""One request on the wire: its transaction id, the bytes that came back, and how it ended.

The transport opens an :class:`Exchange` for each request. When the request frame
goes out, the exchange stamps it with the link's own transaction id (Modbus TCP;
ids keep running across reconnects and start at a random value, so an answer a
gateway kept from an earlier connection never matches) and learns from it what the
answer must look like (:mod:`.frames`). Every byte received is checked there before
pymodbus sees it; pymodbus is handed only the frame that answers the request, under
the transaction id it gave the request itself.

An exchange ends early, without waiting out the timeout, when the link closes or
the stream is out of step (a :class:`~..errors.LinkError`), or when the request's
own answer does not fit it (a :class:`~..errors.DecodeError`).
"""

from __future__ import annotations

import asyncio
import random

from ..errors import DecodeError, LinkError, ModbusError
from .frames import Expectation, Framing, scan

_MAX_TRANSACTION = 0xFFFF
_MAX_BUFFER = 1024
"""Bytes of an RTU line kept while hunting for an answer (four of the longest frames)."""


class TransactionIds:
    """The transaction ids of one link: never 0, running on across reconnects."""

    def __init__(self) -> None:
        """Start at a random id, so that a restart does not repeat the last ids either."""
        self._last = random.randint(1, _MAX_TRANSACTION)

    def next(self) -> int:
        """Return the id of the next request."""
        self._last = self._last % _MAX_TRANSACTION + 1
        return self._last


class Exchange:
    """The answer to one request, as it arrives."""

    def __init__(self, framing: Framing, link: str, ids: TransactionIds) -> None:
        """Prepare for a request on the link named ``link`` (for messages)."""
        self.framing = framing
        self.link = link
        self._ids = ids
        self._expect: Expectation | None = None
        self._own_transaction = b""
        self._buffer = b""
        self.answered = False
        self.ignored: str | None = None
        """The last frame passed over because it answered something else."""
        self.ended: asyncio.Future[ModbusError] = asyncio.get_running_loop().create_future()
        """Set to the error that ends the request before its timeout."""

    def sent(self, frame: bytes) -> bytes:
        """Stamp the request frame going out with the link's transaction id; return it."""
        if self.framing is Framing.MBAP:
            self._own_transaction = frame[0:2]
            frame = self._ids.next().to_bytes(2, "big") + frame[2:]
        self._expect = Expectation.of_request(frame, self.framing)
        self._buffer = b""
        return frame

    def received(self, data: bytes) -> bytes | None:
        """Take bytes off the wire; return the answer frame to hand to pymodbus, if complete."""
        if self._expect is None or self.answered or self.ended.done():
            return None
        self._buffer += data
        if self.framing is Framing.RTU:
            self._buffer = self._buffer[-_MAX_BUFFER:]
        found = scan(self._buffer, self._expect)
        self._buffer = self._buffer[found.consumed :]
        self.ignored = found.ignored or self.ignored
        if found.out_of_step is not None:
            self.end(LinkError(f"{self.link} is out of step: {found.out_of_step}"))
        elif found.misfit is not None:
            self.end(DecodeError(f"{self.link}: {self._unit()} answered wrongly: {found.misfit}"))
        elif found.answer is not None:
            self.answered = True
            if self.framing is Framing.MBAP:
                return self._own_transaction + found.answer[2:]
            return found.answer
        return None

    def end(self, error: ModbusError, *, answered: bool | None = None) -> None:
        """End the request with ``error``, unless it ended or its answer came already.

        ``answered=False`` takes back an answer pymodbus could not read after all.
        """
        if answered is not None:
            self.answered = answered
        if not self.ended.done() and not self.answered:
            self.ended.set_result(error)

    def _unit(self) -> str:
        """Name the unit the request went to."""
        return f"unit {self._expect.unit}" if self._expect is not None else "the device"
