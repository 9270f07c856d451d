"""What the MQTT bridge costs and how fast it reports: ``python bench/bridge_bench.py``.

Three measurements, against a real mosquitto (started on a free port, stopped by its PID):

1. **Throughput.** 100 simulated devices (34 PRO380, 33 PM800, 33 Liebert Series 600) on 10
   Modbus TCP ports, served by a child process so that the simulators' CPU time is not counted.
   Once every device was polled and announced, the bridge polls them (every group every second)
   for ``--seconds``; the bench counts the points decoded (readings with a new timestamp after
   each poll) and the messages published, and divides by the CPU seconds of its own process
   (bridge, engine, pymodbus and paho).
2. **Messages per poll**, change-only (the default) against publishing every state after every
   poll (a refresh interval of zero), with and without per-point topics.
3. **Latency of a UPS going on battery**: the simulated Liebert's mains are cut at a random
   moment; the time until a subscriber receives the state with ``ups_on_battery: true`` is
   measured ``--latency-runs`` times, at fast-group intervals of 1 s and 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, replace
import json
from pathlib import Path
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from typing import Any

from mqtt_bridge.broker import Mosquitto, free_port
from mqtt_bridge.client import Message, MqttClient
from mqtt_bridge.config import parse_settings
from mqtt_bridge.settings import MqttSettings
from mqtt_bridge.supervisor import Bridge
from powerbus import DeviceSession, DeviceSnapshot, get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.liebert import LiebertUpsBehaviour
from powerbus.simulator.server import Simulator

PORTS = 10
UNITS_PER_PORT = 10
MIX = ("pro380", "pm800", "liebert_series600")


def _profile_of(index: int) -> str:
    """Return the profile of the ``index``-th device (0..99): the three families in turn."""
    return MIX[index % len(MIX)]


# --- The simulator process --------------------------------------------------------------------
async def _serve(ports: list[int]) -> None:
    """Serve ``UNITS_PER_PORT`` devices on each port until killed."""
    simulators = []
    for port_index, port in enumerate(ports):
        units = {
            unit: simulated_device(get_profile(_profile_of(port_index * UNITS_PER_PORT + unit - 1)))
            for unit in range(1, UNITS_PER_PORT + 1)
        }
        simulator = Simulator(units)
        await simulator.start_tcp("127.0.0.1", port)
        simulators.append(simulator)
    print("ready", flush=True)
    await asyncio.Event().wait()


# --- Throughput and messages per poll ---------------------------------------------------------
@dataclass
class Counts:
    """What the bridge did in the measured window."""

    polls: int = 0
    points: int = 0
    messages: int = 0
    message_bytes: int = 0
    cpu: float = 0.0
    wall: float = 0.0


def _config(broker: Mosquitto, ports: list[int], *, point_topics: bool) -> dict[str, Any]:
    """Return the bridge configuration for 100 devices on ``ports``."""
    links = []
    for port_index, port in enumerate(ports):
        devices = [
            {
                "name": f"d{port_index * UNITS_PER_PORT + unit}",
                "profile": _profile_of(port_index * UNITS_PER_PORT + unit - 1),
                "unit": unit,
                "intervals": {"fast": 1, "normal": 1, "slow": 1},
            }
            for unit in range(1, UNITS_PER_PORT + 1)
        ]
        links.append({"name": f"port{port}", "url": f"tcp://127.0.0.1:{port}", "devices": devices})
    return {
        "instance": "bench",
        "mqtt": {"host": broker.host, "port": broker.port, "qos": 0},
        "state": {"point_topics": point_topics},
        "links": links,
    }


async def _throughput(
    broker: Mosquitto, ports: list[int], *, seconds: float, everything: bool, point_topics: bool
) -> Counts:
    """Run the bridge on the 100 devices; count what it decoded and published per CPU second."""
    settings = parse_settings(_config(broker, ports, point_topics=point_topics), {})
    if everything:
        settings = replace(settings, state=replace(settings.state, refresh=0.0))
    bridge = Bridge(settings)
    counts = Counts()
    measuring = False
    seen: dict[DeviceSession, dict[str, float]] = {}
    original = bridge._polled  # noqa: SLF001 - the bench counts what each poll decoded

    def polled(session: DeviceSession, snapshot: DeviceSnapshot) -> None:
        stamps = seen.setdefault(session, {})
        fresh = sum(1 for k, r in snapshot.readings.items() if stamps.get(k) != r.timestamp)
        stamps.update({k: r.timestamp for k, r in snapshot.readings.items()})
        if measuring:
            counts.polls += 1
            counts.points += fresh
        original(session, snapshot)

    bridge._polled = polled  # type: ignore[method-assign]  # noqa: SLF001
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(bridge.run(stop))
    # Start-up: connect, and a first full poll (and discovery) of every device, before measuring.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        device.session.uid is not None for device in bridge.devices.values()
    ):
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)
    assert bridge.client is not None
    traffic = bridge.client.traffic
    start_messages, start_bytes = traffic.published, traffic.published_bytes
    cpu, wall = time.process_time(), time.monotonic()
    measuring = True
    await asyncio.sleep(seconds)
    measuring = False
    counts.cpu = time.process_time() - cpu
    counts.wall = time.monotonic() - wall
    counts.messages = traffic.published - start_messages
    counts.message_bytes = traffic.published_bytes - start_bytes
    stop.set()
    await task
    return counts


# --- Latency ----------------------------------------------------------------------------------
async def _latency(broker: Mosquitto, *, fast: float, runs: int) -> list[float]:
    """Cut the UPS's mains ``runs`` times; return the seconds until on-battery reached a subscriber."""
    ups_device = simulated_device(get_profile("liebert_series600"))
    ups = ups_device.behaviour
    assert isinstance(ups, LiebertUpsBehaviour)
    samples: list[float] = []
    async with Simulator({1: ups_device}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        data = {
            "instance": f"latency{int(fast * 1000)}",
            "mqtt": {"host": broker.host, "port": broker.port},
            "links": [
                {
                    "name": "ups",
                    "url": f"tcp://127.0.0.1:{port}",
                    "devices": [
                        {
                            "name": "UPS",
                            "profile": "liebert_series600",
                            "unit": 1,
                            "intervals": {"fast": fast},
                        }
                    ],
                }
            ],
        }
        bridge = Bridge(parse_settings(data, {}))
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(bridge.run(stop))
        arrived: asyncio.Queue[tuple[float, bool]] = asyncio.Queue()

        def received(message: Message) -> None:
            state = json.loads(message.payload)
            arrived.put_nowait((time.monotonic(), state.get("ups_on_battery") is True))

        async def connected() -> None:
            return None

        watcher = MqttClient(
            MqttSettings(host=broker.host, port=broker.port, client_id="latency-watch", qos=0),
            will=("latency/watch", "gone"),
            on_connected=connected,
            on_message=received,
        )
        watcher.subscribe(f"powerbus/{data['instance']}/ups/state")
        await watcher.start()
        await asyncio.sleep(3 * fast + 2)
        for _ in range(runs):
            await asyncio.sleep(random.uniform(0, fast))  # noqa: S311 - a random phase, not a secret
            cut = time.monotonic()
            ups.fail_input()
            samples.append(await _until(arrived, want=True) - cut)
            ups.restore_input()
            await _until(arrived, want=False)
        stop.set()
        await task
        await watcher.stop()
    return samples


async def _until(arrived: asyncio.Queue[tuple[float, bool]], *, want: bool) -> float:
    """Return when a state with ``ups_on_battery`` = ``want`` arrived."""
    while True:
        at, on_battery = await asyncio.wait_for(arrived.get(), 30)
        if on_battery == want:
            return at


# --- Report -----------------------------------------------------------------------------------
async def _bench(args: argparse.Namespace) -> None:
    """Run every measurement and print the report; SIGTERM or Ctrl-C stop what it started."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory() as folder:
        broker = Mosquitto(Path(folder))
        broker.start()
        try:
            print(f"# MQTT bridge bench: Python {platform.python_version()}, {platform.machine()}")
            await _report_throughput(broker, args.seconds)
            await _report_latency(broker, args.latency_runs)
        finally:
            broker.kill()


async def _report_throughput(broker: Mosquitto, seconds: float) -> None:
    """Measure the four publishing modes on 100 devices served by a child process."""
    ports = [free_port() for _ in range(PORTS)]
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "serve", *map(str, ports), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        await server.stdout.readline()
        print("\n## Throughput and messages per poll (100 devices, every group every second)\n")
        print(
            "| publishing | polls | points decoded | messages | KiB | CPU s | wall s "
            "| points/CPU s | messages/CPU s | messages/poll |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for label, everything, point_topics in (
            ("change-only (default)", False, False),
            ("everything, every poll", True, False),
            ("change-only + point topics", False, True),
            ("everything + point topics", True, True),
        ):
            counts = await _throughput(
                broker, ports, seconds=seconds, everything=everything, point_topics=point_topics
            )
            print(
                f"| {label} | {counts.polls} | {counts.points} | {counts.messages} | "
                f"{counts.message_bytes // 1024} | {counts.cpu:.1f} | {counts.wall:.1f} | "
                f"{counts.points / counts.cpu:.0f} | {counts.messages / counts.cpu:.0f} | "
                f"{counts.messages / max(counts.polls, 1):.2f} |"
            )
    finally:
        server.kill()
        await server.wait()


async def _report_latency(broker: Mosquitto, runs: int) -> None:
    """Measure the on-battery latency at fast intervals of 1 s and 2 s."""
    print(f"\n## Latency: UPS mains cut to on-battery state at a subscriber ({runs} runs)\n")
    print("| fast interval | median ms | p90 ms | max ms | min ms |")
    print("|---|---|---|---|---|")
    for fast in (1.0, 2.0):
        samples = sorted(1000 * s for s in await _latency(broker, fast=fast, runs=runs))
        p90 = samples[min(len(samples) - 1, int(0.9 * len(samples)))]
        print(
            f"| {fast:g} s | {statistics.median(samples):.0f} | {p90:.0f} | "
            f"{samples[-1]:.0f} | {samples[0]:.0f} |"
        )


def main() -> None:
    """Run the bench, or (``serve PORT...``) the simulator process it starts."""
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        asyncio.run(_serve([int(port) for port in sys.argv[2:]]))
        return
    parse = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parse.add_argument(
        "--seconds", type=float, default=30.0, help="measured seconds per throughput run"
    )
    parse.add_argument("--latency-runs", type=int, default=20, help="mains cuts per fast interval")
    asyncio.run(_bench(parse.parse_args()))


if __name__ == "__main__":
    main()
