"""State messages, built by pure functions from the engine's entity states.

A device's state message is one JSON object holding every published entity the
engine calls available, keyed by entity key; an unavailable entity is left out
(Home Assistant's discovery makes "present" the entity's availability), and an
available entity whose value is unknown is ``null``. Bus statistics change on every
poll, so they travel in their own message and leave the state message unchanged
between real changes. A switch with an assumed state (nothing reads it back) has
no state to carry: Home Assistant shows the state it last asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import json
import math

from powerbus import EntitySpec, EntityState, Platform, Source, Value

StateMessage = dict[str, Value | None]
UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


def has_state(spec: EntitySpec) -> bool:
    """Whether the entity has a state to publish: not a button, not an assumed-state switch."""
    return spec.platform is not Platform.BUTTON and not spec.assumed_state


def state_message(
    entities: Iterable[EntitySpec], states: Mapping[str, EntityState]
) -> StateMessage:
    """Return the state message: every available entity's value (statistics apart)."""
    return _collect(
        (spec.key for spec in entities if has_state(spec) and spec.source is not Source.STATISTIC),
        states,
    )


def statistics_message(
    entities: Iterable[EntitySpec], states: Mapping[str, EntityState]
) -> StateMessage:
    """Return the statistics message: the device's bus statistics that are published."""
    return _collect((spec.key for spec in entities if spec.source is Source.STATISTIC), states)


def point_payload(state: EntityState | None) -> str:
    """Return one entity's value as plain text: the value, ``unknown`` or ``unavailable``."""
    if state is None or not state.available:
        return UNAVAILABLE
    value = state.value
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode(message: Mapping[str, Value | None]) -> str:
    """Serialise a message compactly; equal messages give equal text (for change detection)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _collect(keys: Iterable[str], states: Mapping[str, EntityState]) -> StateMessage:
    """Return the value of every available entity among ``keys``."""
    message: StateMessage = {}
    for key in keys:
        state = states.get(key)
        if state is not None and state.available:
            message[key] = _finite(state.value)
    return message


def _finite(value: Value | None) -> Value | None:
    """JSON has no NaN or infinity: such a value is unknown."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
