"""The one-command demo: simulated devices, a broker and the bridge, with a live view.

``python -m mqtt_bridge.demo`` (what ``bash scripts/demo.sh`` runs) starts, on
127.0.0.1 only:

- simulated devices on one Modbus TCP port: a PRO380 energy meter (unit 1), a
  PowerLogic PM800 (unit 2) and a Liebert UPS (unit 3);
- a broker: mosquitto when installed (on a free port, stopped by its process
  id), otherwise the embedded amqtt;
- the bridge, on a configuration file written for them (shown on screen);
- a live view of what arrives on the broker, with the ``mosquitto_sub`` line to
  watch it from another terminal, and the ``m`` key to cut the UPS's mains: the
  on-battery state arrives and the view says how long it took.

It runs until Ctrl-C (or ``q``) and stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
import contextlib
from pathlib import Path
import signal
import sys
import tempfile
import termios
import time
import tty
from typing import TextIO

import yaml

from powerbus import LinkError, get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.liebert import LiebertUpsBehaviour
from powerbus.simulator.server import Simulator

from .broker import Broker, start_broker
from .client import Message, MqttClient
from .config import load_settings
from .live_view import View, render
from .settings import MqttSettings
from .supervisor import Bridge

INSTANCE = "demo"
PREFERRED_MODBUS_PORT = 5020
METER_SPEED = 60.0
"""Simulated time runs this much faster for the meters, so their energy counters move."""
DEVICES = (
    (1, "pro380", "Main meter", METER_SPEED),
    (2, "pm800", "Feeder", METER_SPEED),
    (3, "liebert_series600", "UPS", 1.0),
)
FRAME_SECONDS = 0.5
PLAIN_FRAME_SECONDS = 5.0
CLEAR = "\x1b[H\x1b[2J"


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C (or for ``--seconds``)."""
    parse = argparse.ArgumentParser(prog="python -m mqtt_bridge.demo", description=__doc__)
    parse.add_argument("--seconds", type=float, help="stop after this many seconds")
    parse.add_argument(
        "--cut-mains-after", type=float, metavar="S", help="cut the UPS's mains after S seconds"
    )
    args = parse.parse_args(argv)
    return asyncio.run(_demo(args.seconds, args.cut_mains_after, sys.stdout))


async def _demo(seconds: float | None, cut_after: float | None, out: TextIO) -> int:
    """Start everything, show it, stop everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    units = {
        unit: simulated_device(get_profile(key), speed=speed) for unit, key, _n, speed in DEVICES
    }
    ups = units[3].behaviour
    assert isinstance(ups, LiebertUpsBehaviour)
    with tempfile.TemporaryDirectory(prefix="powerbus-demo-") as folder:
        async with Simulator(units) as simulator:
            modbus_port = await _start_modbus(simulator)
            broker = await start_broker(Path(folder))
            try:
                config = _write_config(Path(folder), broker, modbus_port)
                bridge = Bridge(load_settings(config))
                view = View(
                    title=f"Powerbus MQTT bridge demo | broker: {broker.name} on "
                    f"{broker.host}:{broker.port} | Modbus: 127.0.0.1:{modbus_port}",
                    config=f"bridge configuration: {config}",
                    subscribe=f"mosquitto_sub -h {broker.host} -p {broker.port} -v -t "
                    f"'powerbus/{INSTANCE}/#'",
                    keys=sys.stdin.isatty(),
                )
                bridge_task = loop.create_task(bridge.run(stop))
                viewer = await _viewer(broker, bridge.topics.base, view)
                try:
                    with _keys(view, ups, stop):
                        await _show(view, ups, stop, out, seconds=seconds, cut_after=cut_after)
                finally:
                    stop.set()
                    await bridge_task
                    await viewer.stop()
            finally:
                await broker.stop()
    out.write("Demo stopped: simulators, bridge and broker are down.\n")
    return 0


async def _start_modbus(simulator: Simulator) -> int:
    """Serve the devices on port 5020 when it is free, else on any free port."""
    try:
        return await simulator.start_tcp("127.0.0.1", PREFERRED_MODBUS_PORT)
    except LinkError:
        return await simulator.start_tcp("127.0.0.1", 0)


def _write_config(folder: Path, broker: Broker, modbus_port: int) -> Path:
    """Write the bridge configuration the demo runs on."""
    config = {
        "instance": INSTANCE,
        "mqtt": {"host": broker.host, "port": broker.port},
        "state": {"refresh": 30},
        "links": [
            {
                "name": "simulated bus",
                "url": f"tcp://127.0.0.1:{modbus_port}",
                "devices": [
                    {"name": name, "profile": key, "unit": unit, "intervals": {"fast": 1}}
                    for unit, key, name, _speed in DEVICES
                ],
            }
        ],
    }
    path = folder / "bridge.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


async def _viewer(broker: Broker, base: str, view: View) -> MqttClient:
    """Subscribe a second client to the bridge's topics and discovery; feed the view."""

    async def connected() -> None:
        return None

    def received(message: Message) -> None:
        view.received(base, message.topic, message.payload)

    client = MqttClient(
        MqttSettings(host=broker.host, port=broker.port, client_id="powerbus-demo-view", qos=0),
        will=(f"{base}/demo-view", "gone"),
        on_connected=connected,
        on_message=received,
    )
    client.subscribe(f"{base}/#")
    client.subscribe("homeassistant/device/+/config")
    await client.start()
    return client


async def _show(
    view: View,
    ups: LiebertUpsBehaviour,
    stop: asyncio.Event,
    out: TextIO,
    *,
    seconds: float | None,
    cut_after: float | None,
) -> None:
    """Redraw the view until stopped; cut the mains when asked to."""
    started = time.monotonic()
    interactive = out.isatty()
    last_plain = float("-inf")
    while not stop.is_set():
        elapsed = time.monotonic() - started
        if cut_after is not None and elapsed >= cut_after and not view.mains_cut:
            _toggle_mains(view, ups)
        if seconds is not None and elapsed >= seconds:
            break
        if interactive:
            out.write(CLEAR + "\n".join(render(view)) + "\n")
        elif time.monotonic() - last_plain >= PLAIN_FRAME_SECONDS:
            out.write("\n".join(render(view)) + "\n\n")
            last_plain = time.monotonic()
        out.flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FRAME_SECONDS):
                await stop.wait()
    out.write("\n".join(render(view)) + "\n")


def _toggle_mains(view: View, ups: LiebertUpsBehaviour) -> None:
    """Cut the simulated UPS's mains, or bring them back."""
    if view.mains_cut:
        ups.restore_input()
        view.mains_cut = False
        view.notice = "mains restored"
    else:
        ups.fail_input()
        view.mains_cut = True
        view.cut_at = time.monotonic()
        view.notice = "mains cut: waiting for the on-battery state..."


@contextlib.contextmanager
def _keys(view: View, ups: LiebertUpsBehaviour, stop: asyncio.Event) -> Iterator[None]:
    """Read single key presses from a terminal (m: mains, q: quit); restore it afterwards."""
    if not view.keys:
        yield
        return
    stdin = sys.stdin.fileno()
    saved = termios.tcgetattr(stdin)
    loop = asyncio.get_running_loop()

    def pressed() -> None:
        key = sys.stdin.read(1).lower()
        if key == "m":
            _toggle_mains(view, ups)
        elif key == "q":
            stop.set()

    tty.setcbreak(stdin)
    loop.add_reader(stdin, pressed)
    try:
        yield
    finally:
        loop.remove_reader(stdin)
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
