"""A broker for the demo (and the tests): mosquitto on a free port, or amqtt when it is missing.

mosquitto is started with a generated configuration on 127.0.0.1 and a free port,
and stopped by its process id, never by name. Without mosquitto, the demo uses
amqtt (the ``broker`` extra: ``pip install .[broker]``), a broker written in
Python, running inside the demo's own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import getpass
import importlib.util
from pathlib import Path
import shutil
import socket
import subprocess
import time
from typing import Any, Protocol

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class BrokerError(Exception):
    """The broker could not be started."""


class Broker(Protocol):
    """A running broker the demo can hand to the bridge."""

    host: str
    port: int
    name: str

    async def stop(self) -> None:
        """Stop the broker."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def mosquitto_available() -> bool:
    """Whether the mosquitto broker is installed."""
    return shutil.which("mosquitto") is not None


class Mosquitto:
    """A mosquitto process on 127.0.0.1, with a configuration written to ``directory``."""

    name = "mosquitto"

    def __init__(
        self, directory: Path, *, port: int | None = None, extra: Sequence[str] = ()
    ) -> None:
        """Prepare a broker on ``port`` (a free one when None) with ``extra`` config lines."""
        self.host = HOST
        self.port = free_port() if port is None else port
        self.directory = directory
        self.extra = list(extra)
        self.log = directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start mosquitto and wait until it accepts connections."""
        config = self.directory / "mosquitto.conf"
        lines = [
            f"user {getpass.getuser()}",
            "persistence false",
            f"listener {self.port} {self.host}",
            *(self.extra or ["allow_anonymous true"]),
        ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                ["mosquitto", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise BrokerError(
                    f"mosquitto did not start on port {self.port}:\n"
                    + self.log.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.02)

    def kill(self) -> None:
        """Stop the broker by its process id (SIGTERM, then SIGKILL if it lingers)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    async def stop(self) -> None:
        """Stop the broker (waiting for it in a worker thread)."""
        await asyncio.to_thread(self.kill)


class EmbeddedBroker:
    """amqtt in this process's event loop."""

    name = "amqtt (embedded)"

    def __init__(self, *, port: int | None = None) -> None:
        """Prepare a broker on ``port`` (a free one when None)."""
        self.host = HOST
        self.port = free_port() if port is None else port
        self._broker: Any = None

    async def start(self) -> None:
        """Start serving."""
        try:
            from amqtt.broker import Broker as AmqttBroker  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415 - an optional extra
        except ImportError as err:
            raise BrokerError(
                "neither mosquitto nor amqtt is installed: "
                "apt-get install mosquitto, or pip install '.[broker]'"
            ) from err
        self._broker = AmqttBroker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await self._broker.start()

    async def stop(self) -> None:
        """Stop serving."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


async def start_broker(directory: Path) -> Broker:
    """Start mosquitto when installed, else the embedded broker."""
    if mosquitto_available():
        mosquitto = Mosquitto(directory)
        await asyncio.to_thread(mosquitto.start)
        return mosquitto
    embedded = EmbeddedBroker()
    await embedded.start()
    return embedded


def embedded_broker_available() -> bool:
    """Whether amqtt (the ``broker`` extra) is installed."""
    return importlib.util.find_spec("amqtt") is not None


def _accepts(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host``:``port``."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
