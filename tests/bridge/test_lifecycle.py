"""The bridge's lifecycle: broker restarts, Home Assistant's birth, clean-up, signals, last will."""

from __future__ import annotations

from collections.abc import Callable
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import yaml

from mqtt_bridge.broker import Mosquitto
from powerbus.simulator.faults import NoAnswer

from .conftest import WAIT, Devices, Watcher, config, running, settings_of

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_state_and_discovery_return_after_a_broker_restart(
    own_mosquitto: Callable[..., Mosquitto], devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A broker that restarts empty (no persistence) gets discovery, state and online again."""
    broker = own_mosquitto()
    settings = settings_of(config(broker, devices.url))
    base = f"powerbus/{settings.instance}"
    discovery = f"{settings.discovery.prefix}/device/powerbus-{settings.instance}-main_meter/config"
    async with running(settings):
        watcher = watch(f"{base}/#", discovery, broker=broker)
        await watcher.wait(lambda: watcher.json(discovery), "discovery")
        broker.kill()
        broker.start()
        watcher.stop()
        after = watch(f"{base}/#", discovery, broker=broker)
        await after.wait(lambda: after.json(discovery), "discovery after the restart")
        await after.wait(lambda: after.json(f"{base}/main_meter/state"), "state after the restart")
        await after.wait(
            lambda: after.text(f"{base}/main_meter/availability") == "online", "availability"
        )
        assert after.text(f"{base}/bridge/state") == "online"


async def test_home_assistant_birth_brings_discovery_back(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Discovery lost from the broker is published again when Home Assistant says online."""
    settings = settings_of(config(mosquitto, devices.url))
    discovery = f"{settings.discovery.prefix}/device/powerbus-{settings.instance}-main_meter/config"
    watcher = watch(discovery)
    async with running(settings):
        await watcher.wait(lambda: watcher.json(discovery), "discovery")
        watcher.publish(discovery, "", retain=True)
        await watcher.wait(lambda: watcher.text(discovery) is None, "discovery cleared")
        watcher.publish(settings.discovery.status_topic, "online")
        await watcher.wait(lambda: watcher.json(discovery), "discovery after the birth message")


async def test_stale_discovery_of_this_instance_is_removed_at_start(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A retained config of a device no longer configured goes; another instance's stays."""
    settings = settings_of(config(mosquitto, devices.url))
    prefix = settings.discovery.prefix
    gone = f"{prefix}/device/powerbus-{settings.instance}-old_meter/config"
    gone_component = f"{prefix}/sensor/powerbus-{settings.instance}-old_meter/power/config"
    other = f"{prefix}/device/powerbus-other-main_meter/config"
    stale = json.dumps({"dev": {"ids": ["x"]}, "o": {"name": "powerbus-mqtt"}, "cmps": {}})
    watcher = watch(f"{prefix}/#")
    for topic in (gone, gone_component, other):
        watcher.publish(topic, stale, retain=True)
    await watcher.wait(lambda: watcher.text(other), "the stale configs")
    async with running(settings):
        current = f"{prefix}/device/powerbus-{settings.instance}-main_meter/config"
        await watcher.wait(lambda: watcher.json(current), "the current config")
        await watcher.wait(
            lambda: watcher.text(gone) is None and watcher.text(gone_component) is None,
            "the stale configs removed",
        )
        assert watcher.text(other) == stale
    watcher.publish(other, "", retain=True)


async def test_switching_to_per_component_discovery_migrates_the_entities(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Device form, then component form: migrate marker first, then the old config emptied."""
    data = config(mosquitto, devices.url)
    settings = settings_of(data)
    prefix = settings.discovery.prefix
    node = f"powerbus-{settings.instance}-main_meter"
    device_topic = f"{prefix}/device/{node}/config"
    watcher = watch(f"{prefix}/#")
    async with running(settings):
        await watcher.wait(lambda: watcher.json(device_topic), "device discovery")
    data["homeassistant"]["mode"] = "component"
    watcher.clear()
    async with running(settings_of(data)):
        voltage = f"{prefix}/sensor/{node}/voltage_l1/config"
        await watcher.wait(lambda: watcher.json(voltage), "component discovery")
        await watcher.wait(lambda: watcher.text(device_topic) is None, "device config emptied")
    on_device_topic = [payload for topic, payload, _r in watcher.received if topic == device_topic]
    assert json.loads(on_device_topic[0]) == {"migrate_discovery": True}
    assert on_device_topic[-1] == b""
    payload = watcher.json(voltage)
    assert payload["dev"]["ids"] == [payload["uniq_id"].removesuffix("_voltage_l1")]


async def test_two_instances_share_one_broker(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Two bridges on one broker: own topics, own client ids, both online, no interference."""
    first = config(mosquitto, devices.url, instance="site_a")
    second = config(
        mosquitto,
        devices.url,
        instance="site_b",
        devices=[{"name": "UPS", "profile": "liebert_series600", "unit": 3}],
    )
    second["homeassistant"] = first["homeassistant"]
    watcher = watch("powerbus/site_a/#", "powerbus/site_b/#")
    async with running(settings_of(first)) as bridge_a, running(settings_of(second)) as bridge_b:
        await watcher.wait(lambda: watcher.json("powerbus/site_a/main_meter/state"), "site A")
        await watcher.wait(lambda: watcher.json("powerbus/site_b/ups/state"), "site B")
        assert bridge_a.client is not None and bridge_b.client is not None
        connects = (bridge_a.client.traffic.connects, bridge_b.client.traffic.connects)
        assert connects == (1, 1)
        assert watcher.text("powerbus/site_a/bridge/state") == "online"
        assert watcher.text("powerbus/site_b/bridge/state") == "online"
    assert watcher.json("powerbus/site_b/main_meter/state") is None


def _start_bridge(tmp_path: Path, data: dict[str, object]) -> subprocess.Popen[str]:
    """Run ``python -m mqtt_bridge`` on a configuration file, as a service would."""
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "mqtt_bridge", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_sigterm_publishes_offline_and_exits_cleanly(
    tmp_path: Path, mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """SIGTERM: bridge state offline (retained), exit code 0."""
    data = config(mosquitto, devices.url)
    state = f"powerbus/{data['instance']}/bridge/state"
    watcher = watch(f"powerbus/{data['instance']}/#")
    process = _start_bridge(tmp_path, data)
    try:
        await watcher.wait(
            lambda: watcher.json(f"powerbus/{data['instance']}/main_meter/state"), "state"
        )
        process.send_signal(signal.SIGTERM)
        await watcher.wait(lambda: process.poll() is not None, "the bridge to exit")
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=WAIT)[0]
    assert process.returncode == 0, output
    assert watcher.text(state) == "offline"
    assert "stopped" in output


async def test_a_killed_bridge_goes_offline_through_its_last_will(
    tmp_path: Path, mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """SIGKILL: no goodbye, yet the broker publishes the last will, offline, retained."""
    data = config(mosquitto, devices.url)
    state = f"powerbus/{data['instance']}/bridge/state"
    watcher = watch(state)
    process = _start_bridge(tmp_path, data)
    try:
        await watcher.wait(lambda: watcher.text(state) == "online", "online")
        killed = time.monotonic()
        process.kill()
        await watcher.wait(lambda: watcher.text(state) == "offline", "the last will")
        assert watcher.arrived[state] - killed < WAIT
    finally:
        process.kill()
        process.communicate(timeout=WAIT)
    late = watch(state)
    await late.wait(lambda: late.text(state) == "offline", "the retained last will")


async def test_a_swapped_meter_replaces_its_home_assistant_device(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Another serial number after an outage: old discovery emptied, the new device announced."""
    settings = settings_of(config(mosquitto, devices.url))
    discovery = f"{settings.discovery.prefix}/device/powerbus-{settings.instance}-main_meter/config"
    availability = f"powerbus/{settings.instance}/main_meter/availability"
    watcher = watch(discovery, availability)
    async with running(settings):
        first = await watcher.wait(lambda: watcher.json(discovery), "discovery")
        silence = NoAnswer(times=None, unit_id=1)
        devices.simulator.faults.add(silence)
        devices.units[1].set_value("serial_number", "99887766")
        await watcher.wait(lambda: watcher.text(availability) == "offline", "the meter away")
        devices.simulator.faults.discard(silence)
        second = await watcher.wait(
            lambda: (p := watcher.json(discovery)) and p["dev"]["ids"] != first["dev"]["ids"] and p,
            "the new device's discovery",
        )
    payloads = [payload for topic, payload, _r in watcher.received if topic == discovery]
    assert b"" in payloads
    assert payloads.index(b"") < len(payloads) - 1
    assert second["dev"]["ids"] == ["pro380_99887766"]
    assert second["cmps"]["voltage_l1"]["uniq_id"] == "pro380_99887766_voltage_l1"
