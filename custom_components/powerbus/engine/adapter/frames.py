"""What the answer to one Modbus request must look like, checked on the raw bytes.

The transport reads every answer off the wire here before pymodbus sees it, and
hands pymodbus only a frame that answers exactly the request that went out:

- Modbus TCP: the transaction id (never 0), the unit id and the function code of the
  request; the byte count of a read, the echo of a write; a protocol id of 0 and a
  length field that fits. Frames that answer another transaction or unit (a late
  answer, a gateway's stale buffer) are skipped and the wait goes on; a frame that
  breaks the framing (protocol id, length field) leaves the stream out of step.
- RTU (serial, and RTU through a TCP gateway): frames carry no transaction id, so
  only a frame from the unit, with the function code, byte count or echo and CRC
  of the request's answer, is taken; anything else is noise and the wait goes on.
  More than noise right behind the answer (a second frame) makes it ambiguous.

Nothing here does I/O; :mod:`.exchange` keeps the bytes of one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EXCEPTION_FLAG = 0x80
MBAP_HEADER = 7
"""Transaction id, protocol id, length field, unit id."""
MAX_MBAP_LENGTH = 254
"""The most a length field may count: the unit id and a PDU of at most 253 bytes."""
RTU_OVERHEAD = 3
"""Unit id before the PDU, CRC after it."""
RTU_EXCEPTION_SIZE = 5
RTU_MIN_FRAME = 4
_BIT_READS = (1, 2)
_REGISTER_READS = (3, 4)
_ECHOED_WRITES = (5, 6, 15, 16)


class Framing(StrEnum):
    """How frames travel on a link."""

    MBAP = "mbap"
    RTU = "rtu"


def crc16(frame: bytes) -> bytes:
    """Return the CRC-16/MODBUS of ``frame``, low byte first as it goes on the wire."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


@dataclass(frozen=True, kw_only=True, slots=True)
class Expectation:
    """The answer one request asks for, read from the request frame as it went out."""

    framing: Framing
    unit: int
    function: int
    transaction: int
    """The request's transaction id (Modbus TCP), 0 on RTU links."""
    byte_count: int | None
    """The byte count a read's answer must carry; None for a write."""
    echo: bytes
    """The PDU a write's answer repeats (function, address, value or quantity)."""

    @classmethod
    def of_request(cls, frame: bytes, framing: Framing) -> Expectation:
        """Read unit, function and what the answer must carry from a request frame."""
        if framing is Framing.MBAP:
            transaction, unit, pdu = int.from_bytes(frame[0:2], "big"), frame[6], frame[7:]
        else:
            transaction, unit, pdu = 0, frame[0], frame[1:-2]
        function, quantity = pdu[0], int.from_bytes(pdu[3:5], "big")
        if function in _BIT_READS:
            byte_count: int | None = (quantity + 7) // 8
        elif function in _REGISTER_READS:
            byte_count = 2 * quantity
        elif function in _ECHOED_WRITES:
            byte_count = None
        else:
            raise ValueError(f"function {function} is not one the transport sends")
        return cls(
            framing=framing,
            unit=unit,
            function=function,
            transaction=transaction,
            byte_count=byte_count,
            echo=b"" if byte_count is not None else pdu[:5],
        )

    @property
    def answer_size(self) -> int:
        """Return the size of the PDU of a normal answer."""
        return 2 + self.byte_count if self.byte_count is not None else len(self.echo)

    def misfit(self, pdu: bytes) -> str | None:
        """Return why ``pdu`` does not answer the request; None when it does."""
        if pdu[0] == self.function | EXCEPTION_FLAG:
            return None if len(pdu) == 2 else f"an exception answer of {len(pdu)} bytes"
        if pdu[0] != self.function:
            return f"function {pdu[0]} answered a function {self.function} request"
        if self.byte_count is None:
            if pdu != self.echo:
                return f"the write was echoed as {pdu.hex()} instead of {self.echo.hex()}"
            return None
        if len(pdu) < 2 or pdu[1] != self.byte_count:
            count = pdu[1] if len(pdu) > 1 else "none"
            return f"byte count {count} where the request asks for {self.byte_count}"
        if len(pdu) != self.answer_size:
            return f"{len(pdu) - 2} data bytes behind a byte count of {self.byte_count}"
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Scan:
    """What the bytes received so far hold for the request."""

    consumed: int
    """Bytes at the front of the buffer that are dealt with (dropped or taken)."""
    answer: bytes | None = None
    """The frame that answers the request."""
    misfit: str | None = None
    """Why the request's own answer (Modbus TCP) does not fit it."""
    out_of_step: str | None = None
    """Why the stream can no longer be trusted (it must be reopened)."""
    ignored: str | None = None
    """The last frame passed over as an answer to something else."""


def scan(buffer: bytes, expect: Expectation) -> Scan:
    """Look for the answer to ``expect`` in the bytes received since the request."""
    if expect.framing is Framing.MBAP:
        return scan_mbap(buffer, expect)
    return scan_rtu(buffer, expect)


def scan_mbap(buffer: bytes, expect: Expectation) -> Scan:
    """Find the request's answer among complete Modbus TCP frames."""
    position, ignored = 0, None
    while len(buffer) - position >= MBAP_HEADER:
        transaction = int.from_bytes(buffer[position : position + 2], "big")
        protocol = int.from_bytes(buffer[position + 2 : position + 4], "big")
        length = int.from_bytes(buffer[position + 4 : position + 6], "big")
        unit = buffer[position + 6]
        if protocol != 0:
            return Scan(consumed=len(buffer), out_of_step=f"protocol id {protocol} is not Modbus")
        if not 2 <= length <= MAX_MBAP_LENGTH:
            return Scan(consumed=len(buffer), out_of_step=f"length field {length} is impossible")
        ours = transaction == expect.transaction and unit == expect.unit
        if ours and length - 1 not in (expect.answer_size, 2):
            return Scan(
                consumed=len(buffer),
                out_of_step=f"length field {length} where the answer takes "
                f"{expect.answer_size + 1} (or 3 for an exception)",
            )
        end = position + 6 + length
        if len(buffer) < end:
            break
        if not ours:
            ignored = f"an answer to transaction {transaction} of unit {unit}"
            position = end
            continue
        pdu = buffer[position + MBAP_HEADER : end]
        if (misfit := expect.misfit(pdu)) is not None:
            return Scan(consumed=len(buffer), misfit=misfit)
        return Scan(consumed=len(buffer), answer=buffer[position:end], ignored=ignored)
    return Scan(consumed=position, ignored=ignored)


def scan_rtu(buffer: bytes, expect: Expectation) -> Scan:
    """Hunt for the request's answer in RTU bytes, past any noise before it."""
    keep_from, ignored = len(buffer), None
    unit = bytes([expect.unit])
    start = buffer.find(unit)
    while start != -1:
        size = _rtu_size(buffer, start, expect)
        frame = buffer[start : start + size] if size is not None else b""
        if size is not None and len(frame) < size:
            keep_from = min(keep_from, start)
        elif frame and crc16(frame[:-2]) == frame[-2:]:
            behind = len(buffer) - start - len(frame)
            if (misfit := expect.misfit(frame[1:-2])) is not None:
                ignored = f"a frame of unit {expect.unit} with {misfit}"
            elif behind >= RTU_MIN_FRAME:
                return Scan(
                    consumed=len(buffer),
                    out_of_step=f"{behind} more bytes came right behind the answer",
                )
            else:
                return Scan(consumed=len(buffer), answer=frame)
        start = buffer.find(unit, start + 1)
    return Scan(consumed=keep_from, ignored=ignored)


def _rtu_size(buffer: bytes, start: int, expect: Expectation) -> int | None:
    """Return the size of the answer frame that would start at ``start``; None if none can.

    While the buffer holds too little to tell, the size is one more than what arrived,
    so that the bytes are kept until more come.
    """
    if len(buffer) - start < RTU_OVERHEAD:
        return len(buffer) - start + 1
    function = buffer[start + 1]
    if function == expect.function | EXCEPTION_FLAG:
        return RTU_EXCEPTION_SIZE
    if function != expect.function:
        return None
    if expect.byte_count is None:
        return RTU_OVERHEAD + len(expect.echo)
    return RTU_OVERHEAD + 2 + buffer[start + 2]
