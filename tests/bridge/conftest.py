"""Fixtures for the bridge tests: a real mosquitto, simulated devices, a watching client.

mosquitto is started once per test run on a free 127.0.0.1 port (and again for the
tests that need a broker of their own: TLS, passwords, restarts), and stopped by
its process id. Every test uses its own instance id and discovery prefix, so tests
sharing the broker never see each other's retained messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import json
from pathlib import Path
import shutil
import threading
import time
from typing import Any
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from mqtt_bridge.broker import Mosquitto
from mqtt_bridge.config import parse_settings
from mqtt_bridge.settings import BridgeSettings
from mqtt_bridge.supervisor import Bridge
from powerbus import get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

WAIT = 15.0
FAST = 0.2
"""Poll interval of the fast group in these tests (seconds)."""
DEVICES = {1: "pro380", 2: "pm800", 3: "liebert_series600"}


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One mosquitto for the whole run, anonymous, on a free port."""
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is needed for the bridge tests (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Start brokers of the test's own (with extra config lines); all are stopped afterwards."""
    started: list[Mosquitto] = []

    def start(*extra: str, port: int | None = None) -> Mosquitto:
        broker = Mosquitto(tmp_path, port=port, extra=extra)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.kill()


@dataclass
class Devices:
    """Simulated devices on one Modbus TCP port: unit id to device."""

    port: int
    simulator: Simulator
    units: dict[int, ProfileDevice]

    @property
    def url(self) -> str:
        """The link URL of the simulator."""
        return f"tcp://127.0.0.1:{self.port}"


@pytest.fixture
async def devices() -> AsyncIterator[Devices]:
    """Serve a PRO380 (unit 1), a PM800 (unit 2) and a Liebert Series 600 UPS (unit 3)."""
    units = {unit: simulated_device(get_profile(key)) for unit, key in DEVICES.items()}
    async with Simulator(units) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        yield Devices(port=port, simulator=simulator, units=units)


def config(
    broker: Mosquitto,
    url: str,
    *,
    devices: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """Return a bridge configuration (as parsed YAML) for the test broker and simulator."""
    data: dict[str, Any] = {
        "instance": instance or f"t{uuid.uuid4().hex[:8]}",
        "mqtt": {"host": broker.host, "port": broker.port},
        "homeassistant": {"prefix": f"ha_{uuid.uuid4().hex[:8]}"},
        "links": [
            {
                "name": "sim",
                "url": url,
                "devices": devices
                or [
                    {
                        "name": "Main meter",
                        "profile": "pro380",
                        "unit": 1,
                        "intervals": {"fast": FAST},
                    }
                ],
            }
        ],
    }
    for name, section in sections.items():
        data[name] = {**data.get(name, {}), **section} if isinstance(section, dict) else section
    return data


def settings_of(data: dict[str, Any], environ: dict[str, str] | None = None) -> BridgeSettings:
    """Validate a configuration the way the bridge does."""
    return parse_settings(data, environ or {})


@contextlib.asynccontextmanager
async def running(settings: BridgeSettings) -> AsyncIterator[Bridge]:
    """Run a bridge in this event loop; stop it cleanly on the way out."""
    bridge = Bridge(settings)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(bridge.run(stop))
    try:
        yield bridge
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


@dataclass
class Watcher:
    """A second MQTT client that records what arrives (paho in its own thread)."""

    host: str
    port: int
    received: list[tuple[str, bytes, bool]] = field(default_factory=list)
    latest: dict[str, bytes] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: Any = None

    def start(
        self, *topics: str, ca: Path | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        """Connect (over TLS with ``ca``, with ``credentials``) and subscribe to ``topics``."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watcher-{uuid.uuid4().hex[:8]}"
        )
        if ca is not None:
            client.tls_set(ca_certs=str(ca))
        if credentials is not None:
            client.username_pw_set(*credentials)
        client.on_message = self._message
        connected = threading.Event()
        client.on_connect = lambda *_args: connected.set()
        client.connect(self.host, self.port)
        client.loop_start()
        if not connected.wait(WAIT):
            raise TimeoutError("the watcher could not connect")
        subscribed = threading.Event()
        client.on_subscribe = lambda *_args: subscribed.set()
        if topics:
            client.subscribe([(topic, 1) for topic in topics])
            if not subscribed.wait(WAIT):
                raise TimeoutError("the watcher could not subscribe")
        self._client = client

    def stop(self) -> None:
        """Disconnect."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        """Publish a message and wait until the broker took it."""
        self._client.publish(topic, payload, 1, retain).wait_for_publish(WAIT)

    def _message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self._lock:
            self.received.append((message.topic, bytes(message.payload), bool(message.retain)))
            if message.payload:
                self.latest[message.topic] = bytes(message.payload)
            else:
                self.latest.pop(message.topic, None)
            self.arrived[message.topic] = time.monotonic()

    def text(self, topic: str) -> str | None:
        """Return the latest payload on ``topic`` (None when there is none)."""
        with self._lock:
            payload = self.latest.get(topic)
        return None if payload is None else payload.decode()

    def json(self, topic: str) -> Any:
        """Return the latest payload on ``topic``, decoded from JSON."""
        text = self.text(topic)
        return None if text is None else json.loads(text)

    def count(self, topic: str) -> int:
        """How many messages arrived on ``topic``."""
        with self._lock:
            return sum(1 for t, _p, _r in self.received if t == topic)

    def clear(self) -> None:
        """Forget what arrived so far."""
        with self._lock:
            self.received.clear()
            self.latest.clear()
            self.arrived.clear()

    async def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Wait until ``condition()`` is truthy; fail the test with ``what`` otherwise."""
        return await wait_until(condition, what, timeout)


async def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Wait until ``condition()`` is truthy (checking every 20 ms); fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def watch(mosquitto: Mosquitto) -> Iterator[Callable[..., Watcher]]:
    """Start watchers on the shared broker (or another); all are stopped afterwards."""
    watchers: list[Watcher] = []

    def start(*topics: str, broker: Mosquitto | None = None, **options: Any) -> Watcher:
        target = broker or mosquitto
        watcher = Watcher(target.host, target.port)
        watcher.start(*topics, **options)
        watchers.append(watcher)
        return watcher

    yield start
    for watcher in watchers:
        watcher.stop()
