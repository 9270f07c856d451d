"""A Modbus server that answers wrongly on purpose, on raw asyncio sockets (no pymodbus).

The server speaks Modbus TCP (MBAP header) or RTU frames over TCP (what a serial
gateway forwards) on 127.0.0.1. In :attr:`Mode.HEALTHY` it answers function 3, 4, 6
and 16 from a register image. Every other mode answers one way a broken device or
gateway does; a bad answer that carries register values carries 0xDEAD in every
register (:data:`POISON`), so an engine that accepts it shows a wrong value.

The mode can be changed while clients are connected. The server counts the
connections it accepted and those still open, so a test can tell whether the client
left a socket behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
import random

from tests.modbus_crc import modbus_crc

POISON = 0xDEAD
"""The value of every register in a bad answer."""
UNIT = 1
"""The unit id the server answers to."""
GARBAGE_SEED = 20240601
FLOOD_BYTES = 1 << 20
TWIN_DELAY = {"tcp": 0.02, "rtu+tcp": 0.0}
"""How long after its answer the server sends a poisoned twin (:attr:`Mode.ANSWER_TWICE`).

Over Modbus TCP the twin comes while the client waits for its next answer, where only the
transaction id tells them apart. RTU frames carry nothing that could tell a twin from the
next answer of the same size, so there the twin follows the answer at once.
"""


class Framing(StrEnum):
    """How frames travel on the server's socket."""

    MBAP = "tcp"
    RTU = "rtu+tcp"


class Mode(StrEnum):
    """How the server answers every request."""

    HEALTHY = "healthy"
    WRONG_TRANSACTION = "wrong transaction id"
    TRANSACTION_ZERO = "transaction id 0"
    WRONG_UNIT = "wrong unit"
    WRONG_FUNCTION = "wrong function code"
    EXCEPTION = "exception"
    BYTE_COUNT_HIGH = "byte count too large"
    BYTE_COUNT_LOW = "byte count too small"
    LENGTH_HIGH = "length field too large"
    LENGTH_LOW = "length field too small"
    PROTOCOL_ID = "protocol id not 0"
    BAD_CRC = "bad CRC"
    TRUNCATED_SILENT = "truncated frame, then silence"
    TRUNCATED_CLOSE = "truncated frame, then close"
    CLOSE_ON_REQUEST = "close on request"
    GARBAGE = "garbage"
    GARBAGE_FLOOD = "1 MB of garbage"
    ANSWER_TWICE = "answer twice"
    LATE = "answer on the next connection"
    CLOSE_ON_CONNECT = "close on connect"
    NEVER_READ = "accept, never read"


MBAP_ONLY = frozenset(
    {
        Mode.WRONG_TRANSACTION,
        Mode.TRANSACTION_ZERO,
        Mode.LENGTH_HIGH,
        Mode.LENGTH_LOW,
        Mode.PROTOCOL_ID,
    }
)
RTU_ONLY = frozenset({Mode.BAD_CRC})
FALSIFIED_FRAMES = (
    MBAP_ONLY
    | RTU_ONLY
    | {
        Mode.WRONG_UNIT,
        Mode.WRONG_FUNCTION,
        Mode.EXCEPTION,
        Mode.BYTE_COUNT_HIGH,
        Mode.BYTE_COUNT_LOW,
    }
)
"""Modes that answer with one frame of which one part is wrong."""


def modes_for(framing: Framing) -> list[Mode]:
    """Return every mode that means something on ``framing``, the healthy one excepted."""
    excluded = RTU_ONLY if framing is Framing.MBAP else MBAP_ONLY
    return [mode for mode in Mode if mode is not Mode.HEALTHY and mode not in excluded]


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """One request as it came off the wire."""

    transaction: int
    unit: int
    pdu: bytes

    @property
    def function(self) -> int:
        """Return the request's function code."""
        return self.pdu[0]


@dataclass(kw_only=True, slots=True)
class Answer:
    """The parts of an answer frame, each of which a mode may falsify."""

    transaction: int
    protocol: int
    unit: int
    pdu: bytes
    length_delta: int = 0
    crc_ok: bool = True

    def frame(self, framing: Framing) -> bytes:
        """Return the answer's bytes on the wire."""
        if framing is Framing.MBAP:
            length = len(self.pdu) + 1 + self.length_delta
            header = (
                self.transaction.to_bytes(2, "big")
                + self.protocol.to_bytes(2, "big")
                + length.to_bytes(2, "big")
            )
            return header + bytes([self.unit]) + self.pdu
        body = bytes([self.unit]) + self.pdu
        crc = modbus_crc(body)
        return body + (crc if self.crc_ok else bytes([crc[0] ^ 0xFF, crc[1]]))


@dataclass(kw_only=True)
class RegisterImage:
    """Holding registers (function 3, 6, 16) and input registers (function 4)."""

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)


def take_request(buffer: bytearray, framing: Framing) -> Request | None:
    """Cut the first complete request off ``buffer``; None while it is incomplete."""
    if framing is Framing.MBAP:
        if len(buffer) < 7:
            return None
        size = 6 + int.from_bytes(buffer[4:6], "big")
        if len(buffer) < size:
            return None
        frame = bytes(buffer[:size])
        del buffer[:size]
        return Request(transaction=int.from_bytes(frame[0:2], "big"), unit=frame[6], pdu=frame[7:])
    if len(buffer) < 8:
        return None
    size = 9 + buffer[6] if buffer[1] in (15, 16) else 8
    if len(buffer) < size:
        return None
    frame = bytes(buffer[:size])
    del buffer[:size]
    return Request(transaction=0, unit=frame[0], pdu=frame[1:-2])


def healthy_pdu(request: Request, image: RegisterImage) -> bytes:
    """Return what a working device answers to ``request``."""
    function = request.function
    address = int.from_bytes(request.pdu[1:3], "big")
    if function in (3, 4):
        count = int.from_bytes(request.pdu[3:5], "big")
        table = image.holding if function == 3 else image.input
        if any(a not in table for a in range(address, address + count)):
            return bytes([function | 0x80, 0x02])
        data = b"".join(table[a].to_bytes(2, "big") for a in range(address, address + count))
        return bytes([function, len(data)]) + data
    if function == 6:
        image.holding[address] = int.from_bytes(request.pdu[3:5], "big")
        return request.pdu[:5]
    if function == 16:
        count = int.from_bytes(request.pdu[3:5], "big")
        for index in range(count):
            word = request.pdu[6 + 2 * index : 8 + 2 * index]
            image.holding[address + index] = int.from_bytes(word, "big")
        return request.pdu[:5]
    return bytes([function | 0x80, 0x01])


def poisoned_pdu(request: Request, function: int | None = None) -> bytes:
    """Return a well-formed answer to ``request`` with 0xDEAD in every register."""
    function = request.function if function is None else function
    if request.function in (3, 4):
        count = int.from_bytes(request.pdu[3:5], "big")
        return bytes([function, 2 * count]) + POISON.to_bytes(2, "big") * count
    return bytes([function]) + request.pdu[1:3] + POISON.to_bytes(2, "big")


def hostile_answer(request: Request, mode: Mode, exception_code: int) -> Answer:
    """Return the one frame ``mode`` answers ``request`` with (a mode that falsifies a frame)."""
    assert mode in FALSIFIED_FRAMES, mode
    answer = Answer(
        transaction=request.transaction, protocol=0, unit=request.unit, pdu=poisoned_pdu(request)
    )
    if mode is Mode.WRONG_TRANSACTION:
        answer.transaction = (request.transaction ^ 0x5A5A) or 1
    elif mode is Mode.TRANSACTION_ZERO:
        answer.transaction = 0
    elif mode is Mode.WRONG_UNIT:
        answer.unit = (request.unit + 1) & 0xFF
    elif mode is Mode.WRONG_FUNCTION:
        other = {3: 4, 4: 3, 6: 16, 16: 6}.get(request.function, request.function ^ 0x01)
        answer.pdu = poisoned_pdu(request, other)
    elif mode is Mode.EXCEPTION:
        answer.pdu = bytes([request.function | 0x80, exception_code])
    elif mode in (Mode.BYTE_COUNT_HIGH, Mode.BYTE_COUNT_LOW):
        step = 2 if mode is Mode.BYTE_COUNT_HIGH else -2
        answer.pdu = bytes([answer.pdu[0], (answer.pdu[1] + step) & 0xFF]) + answer.pdu[2:]
    elif mode in (Mode.LENGTH_HIGH, Mode.LENGTH_LOW):
        answer.length_delta = 2 if mode is Mode.LENGTH_HIGH else -2
    elif mode is Mode.PROTOCOL_ID:
        answer.protocol = 1
    elif mode is Mode.BAD_CRC:
        answer.crc_ok = False
    return answer


class _Connection(asyncio.Protocol):
    """One client connection; answers as the server's mode says when each request arrives."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.timers: list[asyncio.TimerHandle] = []
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        self.server.accepted += 1
        mode = self.server.mode
        if mode is Mode.CLOSE_ON_CONNECT:
            transport.close()
        elif mode is Mode.NEVER_READ:
            transport.pause_reading()
            self.paused = True
        elif mode is Mode.LATE and self.server.framing is Framing.RTU:
            self._deliver_held()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        for timer in self.timers:
            timer.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := take_request(self.buffer, self.server.framing)) is not None:
            self.server.requests += 1
            self._answer(request)

    def resume(self) -> None:
        """Read again after :attr:`Mode.NEVER_READ` was switched off."""
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = False
            self.transport.resume_reading()

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _later(self, delay: float, data: bytes) -> None:
        self.timers.append(asyncio.get_running_loop().call_later(delay, self._send, data))

    def _deliver_held(self) -> None:
        held, self.server.held = self.server.held, []
        for frame in held:
            self._send(frame)

    def _answer(self, request: Request) -> None:
        server, framing = self.server, self.server.framing
        mode = server.mode
        assert self.transport is not None
        if mode is Mode.HEALTHY or request.unit != UNIT:
            pdu = healthy_pdu(request, server.image)
            answer = Answer(transaction=request.transaction, protocol=0, unit=request.unit, pdu=pdu)
            self._send(answer.frame(framing))
            return
        poisoned = Answer(
            transaction=request.transaction, protocol=0, unit=UNIT, pdu=poisoned_pdu(request)
        ).frame(framing)
        if mode in (Mode.CLOSE_ON_REQUEST, Mode.CLOSE_ON_CONNECT):
            self.transport.close()
        elif mode is Mode.NEVER_READ:
            self.transport.pause_reading()
            self.paused = True
        elif mode in (Mode.TRUNCATED_SILENT, Mode.TRUNCATED_CLOSE):
            self._send(poisoned[: len(poisoned) // 2])
            if mode is Mode.TRUNCATED_CLOSE:
                self.transport.close()
        elif mode in (Mode.GARBAGE, Mode.GARBAGE_FLOOD):
            size = FLOOD_BYTES if mode is Mode.GARBAGE_FLOOD else 100
            self._send(random.Random(GARBAGE_SEED).randbytes(size))
        elif mode is Mode.ANSWER_TWICE:
            healthy = healthy_pdu(request, server.image)
            first = Answer(transaction=request.transaction, protocol=0, unit=UNIT, pdu=healthy)
            self._send(first.frame(framing))
            self._later(TWIN_DELAY[framing.value], poisoned)
        elif mode is Mode.LATE:
            if framing is Framing.MBAP:
                self._deliver_held()
            server.held.append(poisoned)
        else:
            self._send(hostile_answer(request, mode, server.exception_code).frame(framing))


class HostileServer:
    """A Modbus TCP or RTU-over-TCP server on 127.0.0.1 whose answers a test switches."""

    def __init__(self, framing: Framing, image: RegisterImage) -> None:
        """Serve ``image`` to unit :data:`UNIT`, healthy until a mode is set."""
        self.framing = framing
        self.image = image
        self.mode = Mode.HEALTHY
        self.exception_code = 0x04
        self.connections: set[_Connection] = set()
        self.accepted = 0
        self.requests = 0
        self.held: list[bytes] = []
        """Answers a late device has not delivered yet (each goes out on a later connection)."""
        self._server: asyncio.Server | None = None

    @property
    def open_connections(self) -> int:
        """Count the connections the server holds open now."""
        return len(self.connections)

    async def start(self) -> int:
        """Listen on a free port of 127.0.0.1; return the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def set_mode(self, mode: Mode, exception_code: int | None = None) -> None:
        """Answer from now on as ``mode`` says; forget answers a late device still held."""
        self.mode = mode
        if exception_code is not None:
            self.exception_code = exception_code
        if mode is not Mode.LATE:
            self.held.clear()
        if mode is not Mode.NEVER_READ:
            for connection in list(self.connections):
                connection.resume()

    async def wait_until_closed(self, timeout: float = 2.0) -> None:
        """Wait until every client connection has gone (the clients closed theirs)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
