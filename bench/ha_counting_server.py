"""Simulated devices on Modbus TCP that count every request at the server, in a process of their own.

The Home Assistant benchmarks start this program as a child process, so that the CPU
time of answering (the simulator and pymodbus' server) is not counted with the CPU
time of polling::

    python bench/ha_counting_server.py --device 1=pro380 --device 2=pm800

Each device is served from its profile (``unit=profile``); a profile given twice gets
a serial number of its own for each further unit. Clients connect to a counting
relay on 127.0.0.1, which passes every byte on to the simulator and back and reads
the Modbus TCP frames as they go by: for each request it keeps the unit id, function
code, address, quantity, and the bytes of the request and of its answer (MBAP header
included, as they cross the socket).

The program talks to its parent over stdin and stdout, one JSON object per line:

- once started: ``{"port": P, "serials": {"1": "22091039", ...}}`` (units without a
  serial point are left out);
- for every ``take`` line read: ``{"requests": [[unit, function, address, count,
  request_bytes, answer_bytes, answer_function], ...]}``, the answered requests since
  the last ``take``, in the order their answers went out (``answer_function`` has its
  high bit set for an exception answer);
- at the end of its input (or a ``quit`` line) it stops serving and exits.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import astuple, dataclass
import json
import logging
import sys
from typing import Any

from powerbus import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

HOST = "127.0.0.1"
MBAP_HEADER = 7
"""Transaction id (2), protocol id (2), length (2), unit id (1)."""
_LENGTH_FIELD = slice(4, 6)
_READ_BUFFER = 65536


@dataclass(slots=True)
class Request:
    """One request seen by the relay, and the answer it got."""

    unit: int
    function: int
    address: int
    count: int
    request_bytes: int
    answer_bytes: int = 0
    answer_function: int = 0


def split_frames(buffer: bytearray) -> list[bytes]:
    """Take every complete Modbus TCP frame off the front of ``buffer``."""
    frames: list[bytes] = []
    while len(buffer) >= MBAP_HEADER:
        size = 6 + int.from_bytes(buffer[_LENGTH_FIELD], "big")
        if len(buffer) < size:
            break
        frames.append(bytes(buffer[:size]))
        del buffer[:size]
    return frames


def describe_request(frame: bytes) -> Request:
    """Read unit id, function code, address and quantity from a request frame."""
    pdu = frame[MBAP_HEADER:]
    address = int.from_bytes(pdu[1:3], "big") if len(pdu) >= 3 else 0
    count = int.from_bytes(pdu[3:5], "big") if len(pdu) >= 5 else 0
    return Request(
        unit=frame[6],
        function=pdu[0] if pdu else 0,
        address=address,
        count=count,
        request_bytes=len(frame),
    )


class CountingRelay:
    """Passes Modbus TCP between clients and the simulator, and logs each request."""

    def __init__(self, target_port: int) -> None:
        """Relay to the simulator listening on ``target_port``."""
        self._target_port = target_port
        self._answered: list[Request] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def take(self) -> list[Request]:
        """Return the answered requests logged since the last call."""
        taken, self._answered = self._answered, []
        return taken

    async def handle(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        """Relay one client connection until either side closes it."""
        server_in, server_out = await asyncio.open_connection(HOST, self._target_port)
        waiting: dict[bytes, Request] = {}
        pumps = [
            asyncio.create_task(self._requests(client_in, server_out, waiting)),
            asyncio.create_task(self._answers(server_in, client_out, waiting)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            for writer in (server_out, client_out):
                writer.close()

    async def close(self) -> None:
        """Stop relaying on every connection."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _requests(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        waiting: dict[bytes, Request],
    ) -> None:
        """Pass requests on to the simulator, noting each by its transaction id."""
        buffer = bytearray()
        while data := await source.read(_READ_BUFFER):
            sink.write(data)
            buffer += data
            for frame in split_frames(buffer):
                waiting[frame[:2]] = describe_request(frame)
            await sink.drain()

    async def _answers(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        waiting: dict[bytes, Request],
    ) -> None:
        """Pass answers back to the client, completing the request each belongs to."""
        buffer = bytearray()
        while data := await source.read(_READ_BUFFER):
            sink.write(data)
            buffer += data
            for frame in split_frames(buffer):
                request = waiting.pop(frame[:2], None)
                if request is not None:
                    request.answer_bytes = len(frame)
                    request.answer_function = frame[MBAP_HEADER] if len(frame) > MBAP_HEADER else 0
                    self._answered.append(request)
            await sink.drain()


def build_devices(specs: list[str]) -> dict[int, ProfileDevice]:
    """Build a simulated device for each ``unit=profile``; repeated profiles get new serials."""
    devices: dict[int, ProfileDevice] = {}
    seen: Counter[str] = Counter()
    for spec in specs:
        unit_text, _, key = spec.partition("=")
        device = simulated_device(get_profile(key))
        serial_point = device.profile.serial_point
        if serial_point is not None and seen[key]:
            device.set_value(
                serial_point, _another_serial(device.get_value(serial_point), seen[key])
            )
        seen[key] += 1
        devices[int(unit_text)] = device
    return devices


def _another_serial(serial: Any, offset: int) -> Any:
    """Return a serial number ``offset`` steps after ``serial``, in the same form."""
    if isinstance(serial, int):
        return serial + offset
    text = str(serial)
    digits = len(text) - len(text.rstrip("0123456789"))
    if digits == 0:
        return f"{text[:-1]}{chr(ord(text[-1]) + offset)}"
    head, number = text[: len(text) - digits], text[len(text) - digits :]
    return f"{head}{int(number) + offset:0{digits}d}"


def _serials(devices: dict[int, ProfileDevice]) -> dict[str, str]:
    """Return each device's serial number as text, by unit id (devices without one left out)."""
    serials: dict[str, str] = {}
    for unit, device in devices.items():
        point = device.profile.serial_point
        if point is not None:
            serials[str(unit)] = str(device.get_value(point))
    return serials


async def serve(specs: list[str]) -> None:
    """Serve the devices behind the counting relay until stdin ends."""
    devices = build_devices(specs)
    simulator = Simulator(devices)
    simulator_port = await simulator.start_tcp(HOST, 0)
    relay = CountingRelay(simulator_port)
    listener = await asyncio.start_server(relay.handle, HOST, 0)
    port = listener.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    _say({"port": port, "serials": _serials(devices)})
    try:
        while (line := (await commands.readline()).decode().strip()) not in ("", "quit"):
            if line == "take":
                _say({"requests": [astuple(request) for request in relay.take()]})
    finally:
        listener.close()
        await relay.close()
        await listener.wait_closed()
        await simulator.stop()


def _say(message: dict[str, Any]) -> None:
    """Write one JSON line to the parent."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Parse the devices and serve them."""
    # Refused requests are counted by the parent; pymodbus would print each one.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device",
        action="append",
        required=True,
        metavar="UNIT=PROFILE",
        help="a simulated device (repeat for more)",
    )
    asyncio.run(serve(parser.parse_args().device))


if __name__ == "__main__":
    main()
