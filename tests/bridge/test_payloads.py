"""Discovery and state payloads, built without a broker: what Home Assistant and subscribers read."""

from __future__ import annotations

from collections.abc import Iterator
import importlib
from typing import Any

from hypothesis import given, strategies as st
import pytest

from mqtt_bridge.discovery import Announcement, component_configs, device_config, removed_components
from mqtt_bridge.publisher import Publisher
from mqtt_bridge.settings import StateSettings
from mqtt_bridge.state import point_payload, state_message, statistics_message
from mqtt_bridge.topics import Topics
from powerbus import (
    HA_2025_4,
    HA_2026_10,
    DeviceSnapshot,
    EntityState,
    Platform,
    Source,
    builtin_profiles,
    catalogue,
    entity_unique_id,
    get_profile,
)

TOPICS = Topics.of("powerbus", "main", "homeassistant")
# What Home Assistant 2025.4 accepts at the top of a device discovery message (it refuses the
# whole message for any other key).
TOP_LEVEL_2025_4 = {
    "dev",
    "o",
    "cmps",
    "avty",
    "avty_t",
    "avty_mode",
    "avty_tpl",
    "pl_avail",
    "pl_not_avail",
    "stat_t",
    "cmd_t",
    "qos",
    "e",
}


def _announcement(
    key: str, *, vocabulary: Any = HA_2025_4, expire_after: int = 180
) -> Announcement:
    """Announce every catalogue entity of profile ``key``."""
    profile = get_profile(key)
    specs = catalogue(profile, vocabulary)
    return Announcement(
        device="dev",
        name="Device",
        uid=f"{profile.family}_1234",
        manufacturer=profile.manufacturer,
        model=profile.name,
        profile=profile.key,
        serial="1234",
        firmware="1.0",
        entities=specs,
        enabled=frozenset(spec.key for spec in specs if spec.enabled_by_default),
        expire_after=expire_after,
        qos=1,
    )


def _profiles() -> Iterator[str]:
    yield from sorted(builtin_profiles())


@pytest.mark.parametrize("key", list(_profiles()))
def test_device_discovery_of_every_profile_is_valid_on_both_releases(key: str) -> None:
    """Top-level keys 2025.4 accepts; each component names its entity id both ways."""
    topic, payload = device_config(TOPICS, _announcement(key))
    assert topic == "homeassistant/device/powerbus-main-dev/config"
    assert set(payload) <= TOP_LEVEL_2025_4
    assert {"dev", "o", "cmps"} <= set(payload)
    assert payload["avty_mode"] == "all"
    for component_key, component in payload["cmps"].items():
        assert component["uniq_id"] == entity_unique_id(
            f"{get_profile(key).family}_1234", component_key
        )
        assert component["object_id"] == f"dev_{component_key}"
        assert component["default_entity_id"] == f"{component['p']}.dev_{component_key}"


def test_availability_is_bridge_device_and_the_entity_itself() -> None:
    """A point's entity is available only with the bridge, the device and its own value."""
    _topic, payload = device_config(TOPICS, _announcement("pro380"))
    voltage = payload["cmps"]["voltage_l1"]
    topics = [entry["t"] for entry in voltage["avty"]]
    assert topics == [
        "powerbus/main/bridge/state",
        "powerbus/main/dev/availability",
        "powerbus/main/dev/state",
    ]
    assert "'voltage_l1' in value_json" in voltage["avty"][2]["val_tpl"]
    requests = payload["cmps"]["bus_requests"]
    assert [entry["t"] for entry in requests["avty"]] == [
        "powerbus/main/bridge/state",
        "powerbus/main/dev/statistics",
    ]


def test_expire_after_only_where_home_assistant_takes_it() -> None:
    """Sensors and binary sensors expire; selects, numbers and buttons have no such option."""
    _topic, payload = device_config(TOPICS, _announcement("liebert_series600", expire_after=42))
    for component in payload["cmps"].values():
        if component["p"] in ("sensor", "binary_sensor"):
            assert component["exp_aft"] == 42
        else:
            assert "exp_aft" not in component


def test_units_follow_the_release_vocabulary() -> None:
    """2025.4 gets VA where 2026.10 keeps kVA; the unique ids stay the same."""
    old = device_config(TOPICS, _announcement("pro380"))[1]["cmps"]["apparent_power"]
    new = device_config(TOPICS, _announcement("pro380", vocabulary=HA_2026_10))[1]["cmps"][
        "apparent_power"
    ]
    assert (old["unit_of_meas"], new["unit_of_meas"]) == ("VA", "kVA")
    assert old["uniq_id"] == new["uniq_id"]


def test_per_component_topics_carry_the_device_and_origin() -> None:
    """The per-component form: one topic per entity, each with the device block."""
    configs = component_configs(TOPICS, _announcement("pm800"))
    topics = [topic for topic, _payload in configs]
    assert "homeassistant/sensor/powerbus-main-dev/voltage_l1_l2/config" in topics
    for topic, payload in configs:
        platform, node, key = topic.split("/")[1:4]
        assert (platform, node) == (payload["p"], "powerbus-main-dev")
        assert payload["dev"]["ids"] == ["powerlogic_1234"]
        assert payload["uniq_id"].endswith(f"_{key}")


def test_a_component_the_device_dropped_is_removed() -> None:
    """Components a retained payload had and the new one lacks get a removal entry."""
    announcement = _announcement("pro380")
    previous = {
        "cmps": {
            "old_point": {"p": "sensor", "name": "Old"},
            "voltage_l1": {"p": "sensor", "name": "V"},
        }
    }
    assert removed_components(previous, announcement.entities) == {"old_point": {"p": "sensor"}}
    assert removed_components({"cmps": {"gone": {"p": "sensor"}}}, announcement.entities) == {}


def test_discovery_passes_home_assistants_own_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Home Assistant is installed: its device schema and every platform schema accept it."""
    schemas = pytest.importorskip("homeassistant.components.mqtt.schemas")
    # Templates are validated here without a running Home Assistant, which it would report.
    frame = importlib.import_module("homeassistant.helpers.frame")
    monkeypatch.setattr(frame, "report_usage", lambda *_args, **_kwargs: None)
    discovery = importlib.import_module("homeassistant.components.mqtt.discovery")
    for key in ("pro380", "pm800", "liebert_series600", "apc_smart_ups"):
        _topic, payload = device_config(TOPICS, _announcement(key))
        expanded = discovery.MQTTDiscoveryPayload(payload)
        discovery._replace_all_abbreviations(expanded)  # noqa: SLF001 - Home Assistant's own expansion
        schemas.DEVICE_DISCOVERY_SCHEMA(expanded)
        for component in expanded["components"].values():
            platform = importlib.import_module(
                f"homeassistant.components.mqtt.{component['platform']}"
            )
            config = {k: v for k, v in component.items() if k != "platform"}
            platform.DISCOVERY_SCHEMA(config)


def _snapshot(values: dict[str, Any], *, available: bool = True) -> DeviceSnapshot:
    """Return a snapshot of a PRO380 whose points hold ``values``."""
    from powerbus import PointState, Reading  # noqa: PLC0415

    readings = {
        key: Reading(
            key=key,
            value=value,
            state=PointState.VALID if value is not None else PointState.UNAVAILABLE,
            timestamp=0.0,
        )
        for key, value in values.items()
    }
    return DeviceSnapshot(
        profile="pro380",
        unit=1,
        uid="pro380_1",
        available=available,
        identity=None,
        readings=readings,
        polled_at=0.0,
        last_success=0.0,
        stats={"requests": 3},
    )


def test_state_leaves_out_unavailable_entities_and_keeps_unknown_ones_as_null() -> None:
    """Present: available (null when unknown); absent: unavailable. Statistics apart."""
    entities = catalogue(get_profile("pro380"))
    states = {
        "voltage_l1": EntityState(available=True, value=230.5),
        "tariff": EntityState(available=True, value=None),
        "frequency": EntityState(available=False, value=None),
        "bus_requests": EntityState(available=True, value=3),
        "reset_day_counter": EntityState(available=True, value=None),
    }
    assert state_message(entities, states) == {"voltage_l1": 230.5, "tariff": None}
    assert statistics_message(entities, states) == {"bus_requests": 3}


@given(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10)
    ),
    st.booleans(),
)
def test_point_payloads_are_plain_text(value: Any, available: bool) -> None:
    """A point topic carries the value as text, ``unknown`` or ``unavailable``."""
    text = point_payload(EntityState(available=available, value=value))
    if not available:
        assert text == "unavailable"
    elif value is None:
        assert text == "unknown"
    elif isinstance(value, bool):
        assert text == ("true" if value else "false")
    else:
        assert text == str(value)


class FakeClient:
    """Records what would be published."""

    connected = True

    def __init__(self) -> None:
        """Start with nothing published."""
        self.messages: list[tuple[str, str]] = []

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> int:
        """Record the message."""
        self.messages.append((topic, payload))
        return len(self.messages)


class FakeDevice:
    """A bridge device with a PRO380's entities."""

    id = "dev"
    settings = type("S", (), {"profile": get_profile("pro380")})()
    entities = tuple(
        s
        for s in catalogue(get_profile("pro380"))
        if s.source is not Source.COMMAND and s.platform is not Platform.BUTTON
    )

    def describe(self) -> str:
        """Name the device for logs."""
        return "dev"


def test_state_is_published_on_change_and_at_the_refresh_interval() -> None:
    """Same values: nothing new until ``refresh`` has passed (on an injected clock)."""
    now = [0.0]
    client = FakeClient()
    publisher = Publisher(client, TOPICS, StateSettings(refresh=60.0), clock=lambda: now[0])  # type: ignore[arg-type]
    device = FakeDevice()
    polls = [
        _snapshot({"voltage_l1": 230.0}),
        _snapshot({"voltage_l1": 230.0}),
        _snapshot({"voltage_l1": 231.0}),
    ]
    counts = []
    for snapshot in polls:
        publisher.device_polled(device, snapshot)  # type: ignore[arg-type]
        counts.append(sum(1 for topic, _p in client.messages if topic == TOPICS.state("dev")))
        now[0] += 2.0
    now[0] += 60.0
    publisher.device_polled(device, polls[-1])  # type: ignore[arg-type]
    states = [p for topic, p in client.messages if topic == TOPICS.state("dev")]
    assert counts == [1, 1, 2]
    assert len(states) == 3
    assert states[-1] == states[-2]
    availability = [p for topic, p in client.messages if topic == TOPICS.availability("dev")]
    assert availability == ["online"]
    publisher.device_polled(device, _snapshot({"voltage_l1": None}, available=False))  # type: ignore[arg-type]
    assert [p for topic, p in client.messages if topic == TOPICS.availability("dev")] == [
        "online",
        "offline",
    ]
