"""Publishes what each poll brought: availability, state, statistics and point topics.

- **Availability** (``<base>/<device>/availability``, retained) follows the
  engine's snapshot; every change gets one log line, so a log shows when a
  device went offline and why, and when it came back.
- **State** (``<base>/<device>/state``, retained JSON) is published when it
  differs from the last one published, and at least every ``refresh`` seconds.
- **Statistics** (``<base>/<device>/statistics``, retained JSON) change on every
  poll, so they are published every ``refresh`` seconds only.
- **Point topics** (``<base>/<device>/<entity>``, retained text), when enabled,
  are published for each entity whose value changed.

After a (re)connect or Home Assistant's birth message everything is published
again, whether it changed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import logging
import time

from powerbus import DeviceSnapshot, entity_states

from .client import MqttClient
from .devices import BridgeDevice
from .settings import StateSettings
from .state import encode, has_state, point_payload, state_message, statistics_message
from .topics import OFFLINE, ONLINE, Topics

_LOGGER = logging.getLogger(__name__)


@dataclass(kw_only=True, slots=True)
class _Published:
    """What was last published for one device, and when."""

    available: bool | None = None
    state: str | None = None
    state_at: float = float("-inf")
    statistics_at: float = float("-inf")
    points: dict[str, str] = field(default_factory=dict)
    snapshot: DeviceSnapshot | None = None


class Publisher:
    """Turns device snapshots into MQTT messages, publishing only what is new."""

    def __init__(
        self,
        client: MqttClient,
        topics: Topics,
        settings: StateSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Publish through ``client``; ``clock`` (monotonic seconds) times the refresh."""
        self._client = client
        self._topics = topics
        self._settings = settings
        self._clock = clock
        self._published: dict[str, _Published] = {}

    def device_polled(self, device: BridgeDevice, snapshot: DeviceSnapshot) -> None:
        """Publish what changed after a poll of ``device``."""
        record = self._published.setdefault(device.id, _Published())
        record.snapshot = snapshot
        self._availability(device, record, snapshot, force=False)
        self._states(device, record, snapshot, force=False)

    def republish(self, devices: Iterable[BridgeDevice]) -> None:
        """Publish every device's availability and state again (after a reconnect)."""
        for device in devices:
            record = self._published.get(device.id)
            if record is None or record.snapshot is None:
                continue
            self._availability(device, record, record.snapshot, force=True)
            self._states(device, record, record.snapshot, force=True)

    def _availability(
        self, device: BridgeDevice, record: _Published, snapshot: DeviceSnapshot, *, force: bool
    ) -> None:
        """Publish the device's availability when it changed; log every change."""
        available = snapshot.available
        if available != record.available:
            if available:
                if record.available is None:
                    _LOGGER.info("%s is online", device.describe())
                else:
                    _LOGGER.info("%s is back online", device.describe())
            else:
                _LOGGER.warning(
                    "%s is offline: %s", device.describe(), snapshot.error or "no answer"
                )
        elif not force:
            return
        record.available = available
        self._client.publish(
            self._topics.availability(device.id), ONLINE if available else OFFLINE, retain=True
        )

    def _states(
        self, device: BridgeDevice, record: _Published, snapshot: DeviceSnapshot, *, force: bool
    ) -> None:
        """Publish the state (on change or refresh), statistics (on refresh) and point topics."""
        now = self._clock()
        states = entity_states(device.settings.profile, device.entities, snapshot)
        text = encode(state_message(device.entities, states))
        refresh_due = now - record.state_at >= self._settings.refresh
        if (force or text != record.state or refresh_due) and self._client.publish(
            self._topics.state(device.id), text, retain=True
        ) is not None:
            record.state = text
            record.state_at = now
        if force or now - record.statistics_at >= self._settings.refresh:
            statistics = statistics_message(device.entities, states)
            if (
                statistics
                and self._client.publish(
                    self._topics.statistics(device.id), encode(statistics), retain=True
                )
                is not None
            ):
                record.statistics_at = now
        if self._settings.point_topics:
            for spec in device.entities:
                if not has_state(spec):
                    continue
                payload = point_payload(states.get(spec.key))
                if force or record.points.get(spec.key) != payload:
                    if (
                        self._client.publish(
                            self._topics.point(device.id, spec.key), payload, retain=True
                        )
                        is not None
                    ):
                        record.points[spec.key] = payload
