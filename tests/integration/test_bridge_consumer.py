"""Home Assistant as the bridge's real consumer: its own MQTT integration, a real mosquitto.

The bridge runs as its own process (``python -m mqtt_bridge``) on simulated devices served
in this test's event loop; Home Assistant's MQTT integration connects to the same mosquitto
(started on a free 127.0.0.1 port, stopped by its PID). The devices must appear through
discovery with the engine's device classes, units, states and unique ids, a UPS going on
battery must reach Home Assistant's binary sensor, and a switch turned in Home Assistant
(a relay's coil, and an outlet the UPS does not read back, shown with an assumed state) must
reach the device.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.mqtt import const as mqtt_const
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from mqtt_bridge.broker import Mosquitto
from powerbus import Table, catalogue, entity_unique_id, get_profile, load_profile_file
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.liebert import LiebertUpsBehaviour
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator
from tests.relay_profile import RELAY_PROFILE

REPO_ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


async def _wait_for(hass: HomeAssistant, condition: Callable[[], Any], what: str) -> Any:
    """Wait (letting Home Assistant work) until ``condition()`` is truthy, or fail."""
    deadline = time.monotonic() + WAIT
    while True:
        await hass.async_block_till_done()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await hass.async_add_executor_job(time.sleep, 0.05)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Start a mosquitto of this test's own."""
    mosquitto = Mosquitto(tmp_path)
    mosquitto.start()
    yield mosquitto
    mosquitto.kill()


@pytest.fixture
async def simulated(tmp_path: Path) -> AsyncIterator[tuple[int, dict[int, ProfileDevice], Path]]:
    """Serve a PRO380 (unit 1), a Liebert UPS (unit 3) and a relay (unit 5) on one port."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "relay.yaml").write_text(RELAY_PROFILE, encoding="utf-8")
    relay = load_profile_file(profiles / "relay.yaml")["test_relay"]
    units = {
        1: simulated_device(get_profile("pro380")),
        3: simulated_device(get_profile("liebert_series600")),
        5: simulated_device(relay),
    }
    async with Simulator(units) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        yield port, units, profiles


@pytest.fixture
async def mqtt_entry(
    hass: HomeAssistant, socket_enabled: None, mock_hass_config: None, broker: Mosquitto
) -> AsyncIterator[MockConfigEntry]:
    """Set up Home Assistant's MQTT integration, connected to the test broker."""
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={"broker": broker.host, "port": broker.port},
        version=mqtt_const.CONFIG_ENTRY_VERSION,
        minor_version=mqtt_const.CONFIG_ENTRY_MINOR_VERSION,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _wait_for(hass, lambda: mqtt.is_connected(hass), "Home Assistant's MQTT connection")
    yield entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def bridge(
    tmp_path: Path, broker: Mosquitto, simulated: tuple[int, dict[int, ProfileDevice], Path]
) -> Iterator[subprocess.Popen[str]]:
    """Run the bridge as its own process on the simulated devices; stop it with SIGTERM."""
    port, _units, profiles = simulated
    config = {
        "mqtt": {"host": broker.host, "port": broker.port},
        "profiles_dir": str(profiles),
        "links": [
            {
                "name": "sim",
                "url": f"tcp://127.0.0.1:{port}",
                "devices": [
                    {
                        "name": "Main meter",
                        "profile": "pro380",
                        "unit": 1,
                        "intervals": {"fast": 0.5},
                    },
                    {
                        "name": "UPS",
                        "profile": "liebert_series600",
                        "unit": 3,
                        "intervals": {"fast": 0.5},
                        "enable": ["outlet_2"],
                        "commands": {"dangerous": ["outlet_2"]},
                    },
                    {
                        "name": "Relay",
                        "profile": "test_relay",
                        "unit": 5,
                        "intervals": {"fast": 0.5},
                    },
                ],
            }
        ],
    }
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "mqtt_bridge", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    yield process
    process.terminate()
    process.wait(timeout=WAIT)


async def test_home_assistant_takes_the_bridges_devices(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    bridge: subprocess.Popen[str],
    simulated: tuple[int, dict[int, ProfileDevice], Path],
) -> None:
    """Entities appear with the engine's classes, units, states and unique ids; changes flow."""
    _port, units, _profiles = simulated
    registry = er.async_get(hass)
    serial = await _wait_for(
        hass,
        lambda: next(
            (
                e.unique_id.removeprefix("pro380_").removesuffix("_voltage_l1")
                for e in registry.entities.values()
                if e.platform == "mqtt" and e.unique_id.endswith("_voltage_l1")
            ),
            None,
        ),
        "the meter's voltage entity",
    )
    meter_uid = f"pro380_{serial}"
    specs = {spec.key: spec for spec in catalogue(get_profile("pro380"))}
    for key in ("voltage_l1", "active_power", "import_active_energy", "tariff"):
        spec = specs[key]
        entity_id = registry.async_get_entity_id(
            spec.platform.value, "mqtt", entity_unique_id(meter_uid, key)
        )
        assert entity_id is not None, key
        state = await _wait_for(
            hass,
            lambda e=entity_id: (
                (s := hass.states.get(e)) and s.state not in ("unknown", "unavailable") and s
            ),
            f"a state of {key}",
        )
        assert state.attributes.get("unit_of_measurement") == spec.unit
        assert state.attributes.get("device_class") == spec.device_class
        if spec.state_class is not None:
            assert state.attributes.get("state_class") == spec.state_class.value
    voltage = hass.states.get(
        registry.async_get_entity_id("sensor", "mqtt", f"{meter_uid}_voltage_l1")
    )
    assert voltage is not None and 180 < float(voltage.state) < 280

    ups_uid = await _wait_for(
        hass,
        lambda: next(
            (
                e.unique_id.removesuffix("_ups_on_battery")
                for e in registry.entities.values()
                if e.platform == "mqtt" and e.unique_id.endswith("_ups_on_battery")
            ),
            None,
        ),
        "the UPS's on-battery entity",
    )
    on_battery = registry.async_get_entity_id("binary_sensor", "mqtt", f"{ups_uid}_ups_on_battery")
    assert on_battery is not None
    await _wait_for(
        hass, lambda: (s := hass.states.get(on_battery)) and s.state == "off", "mains on"
    )
    behaviour = units[3].behaviour
    assert isinstance(behaviour, LiebertUpsBehaviour)
    cut = time.monotonic()
    behaviour.fail_input()
    await _wait_for(hass, lambda: hass.states.get(on_battery).state == "on", "on battery in HA")
    latency = time.monotonic() - cut
    print(f"\non battery reached Home Assistant {1000 * latency:.0f} ms after the mains cut")  # noqa: T201
    ups_specs = {spec.key: spec for spec in catalogue(get_profile("liebert_series600"))}
    expected_class = ups_specs["ups_on_battery"].device_class
    assert hass.states.get(on_battery).attributes.get("device_class") == expected_class
    behaviour.restore_input()

    relay = await _wait_for(
        hass,
        lambda: next(
            (
                e.entity_id
                for e in registry.entities.values()
                if e.platform == "mqtt" and e.unique_id.endswith("_relay") and e.domain == "switch"
            ),
            None,
        ),
        "the relay switch",
    )
    await _wait_for(hass, lambda: (s := hass.states.get(relay)) and s.state == "off", "relay off")
    await hass.services.async_call("switch", "turn_on", {"entity_id": relay}, blocking=True)
    await _wait_for(hass, lambda: units[5].read(Table.COIL, 0, 1) == [True], "the coil switched on")
    await _wait_for(hass, lambda: hass.states.get(relay).state == "on", "the switch on in HA")

    outlet = registry.async_get_entity_id("switch", "mqtt", f"{ups_uid}_outlet_2")
    assert outlet is not None, "outlet_2 is listed as dangerous, so the bridge publishes it"
    assert registry.async_get_entity_id("switch", "mqtt", f"{ups_uid}_outlet_3") is None
    state = await _wait_for(hass, lambda: hass.states.get(outlet), "the outlet switch's state")
    assert state.attributes.get("assumed_state") is True
    behaviour.outlets = 0b0011
    await hass.services.async_call("switch", "turn_off", {"entity_id": outlet}, blocking=True)
    await _wait_for(hass, lambda: behaviour.outlets == 0b0001, "outlet 2 switched off")
    await _wait_for(hass, lambda: hass.states.get(outlet).state == "off", "the outlet off in HA")
