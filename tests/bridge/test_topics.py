"""Topic layout: every request and discovery topic the bridge makes, it also recognises."""

from __future__ import annotations

from hypothesis import given, strategies as st

from mqtt_bridge.topics import Topics

SLUGS = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)


@given(SLUGS, SLUGS, SLUGS)
def test_set_and_command_topics_parse_back(instance: str, device: str, key: str) -> None:
    """A set topic gives (device, entity), a command topic (device, None); the rest nothing."""
    topics = Topics.of("powerbus", instance, "homeassistant")
    assert topics.parse_request(topics.set(device, key)) == (device, key)
    assert topics.parse_request(topics.command(device)) == (device, None)
    assert topics.parse_request(topics.state(device)) is None
    assert topics.parse_request(topics.response(device)) is None


@given(SLUGS, SLUGS, SLUGS, SLUGS)
def test_discovery_topics_are_recognised_only_by_their_own_instance(
    instance: str, other: str, device: str, key: str
) -> None:
    """The clean-up at start sees its own instance's configs, never another instance's."""
    mine = Topics.of("powerbus", instance, "homeassistant")
    theirs = Topics.of("powerbus", other, "homeassistant")
    parsed = mine.parse_discovery(mine.device_discovery(device))
    assert parsed is not None and (parsed.platform, parsed.component) == ("device", None)
    component = mine.parse_discovery(mine.component_discovery("sensor", device, key))
    assert component is not None and (component.platform, component.component) == ("sensor", key)
    if other != instance:
        assert mine.parse_discovery(theirs.device_discovery(device)) is None
        assert mine.parse_discovery(theirs.component_discovery("sensor", device, key)) is None
