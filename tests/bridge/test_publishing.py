"""The bridge against a real mosquitto and simulated devices: discovery, state, availability."""

from __future__ import annotations

from collections.abc import Callable
import logging

import pytest

from mqtt_bridge.broker import Mosquitto
from powerbus import catalogue, entity_unique_id, get_profile
from powerbus.simulator.faults import NoAnswer

from .conftest import FAST, Devices, Watcher, config, running, settings_of

THREE_DEVICES = [
    {"name": "Main meter", "profile": "pro380", "unit": 1, "intervals": {"fast": FAST}},
    {"name": "Feeder", "profile": "pm800", "unit": 2, "intervals": {"fast": FAST}},
    {"name": "UPS", "profile": "liebert_series600", "unit": 3, "intervals": {"fast": FAST}},
]


async def test_minimal_config_publishes_discovery_state_and_availability(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """The issue's minimal configuration: the meter appears with its state and availability."""
    data = config(mosquitto, devices.url)
    data["links"][0]["devices"] = [{"name": "main meter", "profile": "pro380", "unit": 1}]
    settings = settings_of(data)
    base = f"powerbus/{settings.instance}"
    prefix = settings.discovery.prefix
    watcher = watch(f"{base}/#", f"{prefix}/#")
    async with running(settings):
        discovery_topic = f"{prefix}/device/powerbus-{settings.instance}-main_meter/config"
        payload = await watcher.wait(lambda: watcher.json(discovery_topic), "discovery")
        state = await watcher.wait(lambda: watcher.json(f"{base}/main_meter/state"), "state")
        await watcher.wait(
            lambda: watcher.text(f"{base}/main_meter/availability") == "online", "availability"
        )
        assert watcher.text(f"{base}/bridge/state") == "online"
    serial = state["serial_number"]
    assert payload["dev"]["ids"] == [f"pro380_{serial}"]
    assert payload["dev"]["sn"] == serial
    voltage = payload["cmps"]["voltage_l1"]
    assert voltage["uniq_id"] == entity_unique_id(f"pro380_{serial}", "voltage_l1")
    assert voltage["unit_of_meas"] == "V"
    assert voltage["dev_cla"] == "voltage"
    assert 180 < state["voltage_l1"] < 280
    assert await watcher.wait(
        lambda: watcher.text(f"{base}/bridge/state") == "offline", "offline after stop"
    )


async def test_every_device_is_announced_with_the_catalogue_entities(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A meter, a power meter and a UPS: each device's components are its catalogue's."""
    settings = settings_of(config(mosquitto, devices.url, devices=THREE_DEVICES))
    prefix = settings.discovery.prefix
    watcher = watch(f"{prefix}/#")
    async with running(settings):
        topics = {
            device: f"{prefix}/device/powerbus-{settings.instance}-{device}/config"
            for device in ("main_meter", "feeder", "ups")
        }
        await watcher.wait(
            lambda: all(watcher.json(topic) for topic in topics.values()), "three devices"
        )
    ups = watcher.json(topics["ups"])
    profile = get_profile("liebert_series600")
    specs = {spec.key: spec for spec in catalogue(profile)}
    assert set(ups["cmps"]) <= set(specs)
    assert ups["cmps"]["ups_on_battery"]["p"] == "binary_sensor"
    assert ups["cmps"]["ups_status"]["ops"] == list(specs["ups_status"].options)
    uid = ups["dev"]["ids"][0]
    for key, component in ups["cmps"].items():
        assert component["uniq_id"] == entity_unique_id(uid, key)
        assert component["p"] == specs[key].platform.value


async def test_a_device_that_stops_answering_goes_offline_and_comes_back(
    mosquitto: Mosquitto,
    devices: Devices,
    watch: Callable[..., Watcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No answer: availability offline with a log line; answers again: online, by itself."""
    caplog.set_level(logging.INFO, logger="mqtt_bridge")
    settings = settings_of(config(mosquitto, devices.url))
    base = f"powerbus/{settings.instance}"
    availability = f"{base}/main_meter/availability"
    watcher = watch(f"{base}/#")
    async with running(settings):
        await watcher.wait(lambda: watcher.text(availability) == "online", "online")
        silence = NoAnswer(times=None, unit_id=1)
        devices.simulator.faults.add(silence)
        await watcher.wait(lambda: watcher.text(availability) == "offline", "offline")
        assert watcher.text(f"{base}/bridge/state") == "online"
        devices.simulator.faults.discard(silence)
        await watcher.wait(lambda: watcher.text(availability) == "online", "back online")
    messages = [record.getMessage() for record in caplog.records]
    assert any("Main meter" in m and "is offline" in m for m in messages)
    assert any("Main meter" in m and "is back online" in m for m in messages)


async def test_state_is_published_only_when_it_changes(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A device whose values stand still publishes its state once, not after every poll."""
    still = [
        {
            "name": "Meter",
            "profile": "pro380",
            "unit": 1,
            "intervals": {"fast": FAST, "normal": FAST},
            "disable": [
                spec.key
                for spec in catalogue(get_profile("pro380"))
                if spec.key not in {"serial_number", "software_version", "tariff"}
            ],
        }
    ]
    settings = settings_of(config(mosquitto, devices.url, devices=still))
    base = f"powerbus/{settings.instance}"
    watcher = watch(f"{base}/#")
    async with running(settings) as bridge:
        await watcher.wait(lambda: watcher.json(f"{base}/meter/state"), "state")
        polls = bridge.devices["meter"].session.stats.requests
        await watcher.wait(
            lambda: bridge.devices["meter"].session.stats.requests >= polls + 5, "five more polls"
        )
    assert watcher.count(f"{base}/meter/state") == 1
