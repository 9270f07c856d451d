"""The adapter's check of answers on the raw bytes, without sockets.

Requests and answers are built here from the Modbus specification's frame layouts,
independently of the adapter and of pymodbus.
"""

from __future__ import annotations

from hypothesis import given, strategies as st

from powerbus.adapter.exchange import Exchange, TransactionIds
from powerbus.adapter.frames import Expectation, Framing, scan
from powerbus.errors import DecodeError, LinkError
from tests.modbus_crc import modbus_crc

READS = (1, 2, 3, 4)
WRITES = (5, 6, 15, 16)


def request_pdu(function: int, address: int, quantity: int) -> bytes:
    """Build a request PDU of ``function`` (the write values are zeros)."""
    head = bytes([function]) + address.to_bytes(2, "big")
    if function in (5, 6):
        return head + b"\x00\x00"
    if function in (15, 16):
        size = (quantity + 7) // 8 if function == 15 else 2 * quantity
        return head + quantity.to_bytes(2, "big") + bytes([size]) + bytes(size)
    return head + quantity.to_bytes(2, "big")


def answer_pdu(function: int, address: int, quantity: int, fill: int = 0xAB) -> bytes:
    """Build the PDU a working device answers the request with."""
    if function in READS:
        size = (quantity + 7) // 8 if function in (1, 2) else 2 * quantity
        return bytes([function, size]) + bytes([fill]) * size
    return request_pdu(function, address, quantity)[:5]


def mbap(transaction: int, unit: int, pdu: bytes) -> bytes:
    """Build a Modbus TCP frame."""
    return (
        transaction.to_bytes(2, "big")
        + b"\x00\x00"
        + (len(pdu) + 1).to_bytes(2, "big")
        + (bytes([unit]) + pdu)
    )


def rtu(unit: int, pdu: bytes) -> bytes:
    """Build an RTU frame with its CRC."""
    return bytes([unit]) + pdu + modbus_crc(bytes([unit]) + pdu)


requests = st.tuples(
    st.sampled_from(READS + WRITES), st.integers(0, 0xFFF0), st.integers(1, 100)
).map(lambda r: (r[0], r[1], r[2] if r[0] not in (5, 6) else 1))


@given(requests, st.integers(1, 0xFFFF), st.integers(1, 247))
def test_the_answer_to_the_request_is_taken(
    request: tuple[int, int, int], transaction: int, unit: int
) -> None:
    """A proper answer is found, on both framings."""
    function, address, quantity = request
    sent = mbap(transaction, unit, request_pdu(*request))
    answer = mbap(transaction, unit, answer_pdu(function, address, quantity))
    assert scan(answer, Expectation.of_request(sent, Framing.MBAP)).answer == answer
    sent = rtu(unit, request_pdu(*request))
    answer = rtu(unit, answer_pdu(function, address, quantity))
    assert scan(answer, Expectation.of_request(sent, Framing.RTU)).answer == answer


@given(requests, st.integers(0, 12), st.integers(1, 255))
def test_no_changed_byte_of_a_tcp_answer_is_taken(
    request: tuple[int, int, int], position: int, flip: int
) -> None:
    """Changing any header byte, function code or byte count never yields an answer."""
    function, address, quantity = request
    sent = mbap(0x1234, 1, request_pdu(*request))
    answer = bytearray(mbap(0x1234, 1, answer_pdu(function, address, quantity)))
    position = min(position, len(answer) - 1)
    if function in READS and position > 8:  # register values may be anything
        position = 8
    answer[position] ^= flip
    assert scan(bytes(answer), Expectation.of_request(sent, Framing.MBAP)).answer is None


@given(requests, st.integers(0, 8), st.integers(1, 255), st.binary(max_size=20))
def test_no_changed_byte_of_an_rtu_answer_is_taken(
    request: tuple[int, int, int], position: int, flip: int, noise: bytes
) -> None:
    """On RTU, a changed byte (CRC included) is never taken, whatever noise came before."""
    function, address, quantity = request
    sent = rtu(1, request_pdu(*request))
    answer = bytearray(rtu(1, answer_pdu(function, address, quantity)))
    position = min(position, len(answer) - 1)
    answer[position] ^= flip
    found = scan(noise + bytes(answer), Expectation.of_request(sent, Framing.RTU))
    assert found.answer is None


@given(requests, st.binary(max_size=30))
def test_noise_before_an_rtu_answer_is_skipped(request: tuple[int, int, int], noise: bytes) -> None:
    """Bytes before the answer on a serial line (a driver switching) do not hide it."""
    function, address, quantity = request
    sent = rtu(7, request_pdu(*request))
    answer = rtu(7, answer_pdu(function, address, quantity))
    assert scan(noise + answer, Expectation.of_request(sent, Framing.RTU)).answer == answer


def test_an_rtu_answer_followed_by_a_second_frame_is_ambiguous() -> None:
    """Two answers back to back on RTU cannot be told apart: neither is taken."""
    sent = rtu(1, request_pdu(3, 0, 2))
    first, twin = rtu(1, answer_pdu(3, 0, 2, 0x11)), rtu(1, answer_pdu(3, 0, 2, 0xDE))
    found = scan(first + twin, Expectation.of_request(sent, Framing.RTU))
    assert found.answer is None
    assert found.out_of_step is not None


def test_a_tcp_answer_to_another_transaction_is_passed_over() -> None:
    """A stale answer ahead of the real one is skipped; the real one is taken."""
    sent = mbap(20, 1, request_pdu(3, 0, 2))
    stale, real = mbap(19, 1, answer_pdu(3, 0, 2, 0xDE)), mbap(20, 1, answer_pdu(3, 0, 2))
    found = scan(stale + real, Expectation.of_request(sent, Framing.MBAP))
    assert found.answer == real
    assert found.ignored is not None


def test_transaction_ids_run_on_and_skip_zero() -> None:
    """Ids never repeat within 65535 requests and are never 0."""
    ids = TransactionIds()
    drawn = [ids.next() for _ in range(0x10000)]
    assert 0 not in drawn
    assert len(set(drawn[:0xFFFF])) == 0xFFFF


@given(requests, st.integers(1, 40))
async def test_an_answer_in_pieces_is_the_same_answer(
    request: tuple[int, int, int], cut: int
) -> None:
    """However the answer is split across reads, the exchange takes it whole."""
    function, address, quantity = request
    exchange = Exchange(Framing.MBAP, "tcp://test", TransactionIds())
    stamped = exchange.sent(mbap(9, 1, request_pdu(*request)))
    transaction = int.from_bytes(stamped[0:2], "big")
    answer = mbap(transaction, 1, answer_pdu(function, address, quantity))
    cut = min(cut, len(answer) - 1)
    assert exchange.received(answer[:cut]) is None
    handed = exchange.received(answer[cut:])
    assert handed == mbap(9, 1, answer_pdu(function, address, quantity))
    assert not exchange.ended.done()


async def test_a_wrong_answer_and_a_broken_stream_end_the_exchange() -> None:
    """The request's own answer with a wrong function code, or a bad length field, ends it."""
    wrong = Exchange(Framing.MBAP, "tcp://test", TransactionIds())
    stamped = wrong.sent(mbap(1, 1, request_pdu(3, 0, 2)))
    transaction = int.from_bytes(stamped[0:2], "big")
    assert wrong.received(mbap(transaction, 1, answer_pdu(4, 0, 2))) is None
    assert isinstance(wrong.ended.result(), DecodeError)

    broken = Exchange(Framing.MBAP, "tcp://test", TransactionIds())
    stamped = broken.sent(mbap(1, 1, request_pdu(3, 0, 2)))
    frame = bytearray(mbap(int.from_bytes(stamped[0:2], "big"), 1, answer_pdu(3, 0, 2)))
    frame[5] -= 2
    assert broken.received(bytes(frame)) is None
    assert isinstance(broken.ended.result(), LinkError)
