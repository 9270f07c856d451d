"""The discovery lifecycle: clean up at start, announce devices, follow a device swap.

At start the bridge reads every retained discovery config on the broker (a short
subscription, ended by a message it sends itself: the broker delivers retained
messages before it, in order) and keeps what belongs to this instance (node ids
``powerbus-<instance>-...``):

- a device no longer configured is removed (an empty retained config);
- a configured device published in the other discovery form is migrated the way
  Home Assistant asks: ``{"migrate_discovery": true}`` on the old topics, the new
  config, then the old topics emptied; its entities keep their ids and history;
- a component the device no longer has is removed, in the device config itself
  (device form) or by emptying its topic (component form).

A device is announced once its uid is known (after its first answer, since the
uid may hold its serial number). If a device answers with another uid than the
one its retained config carries (the meter was swapped), the old config is
removed first and the new one follows a moment later, so Home Assistant does not
mix the two devices' entities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
import json
import logging
from typing import Any
import uuid

from .client import Message, MqttClient
from .devices import BridgeDevice
from .discovery import Announcement, component_configs, device_config, encode, removed_components
from .settings import DiscoverySettings
from .topics import DEVICE_COMPONENT, Topics

_LOGGER = logging.getLogger(__name__)

SCAN_TIMEOUT = 10.0
SYNC_RETRY = 1.0
SWAP_PAUSE = 2.0
"""Seconds between removing a swapped device's old config and announcing the new one."""
MIGRATE = json.dumps({"migrate_discovery": True})


class Announcer:
    """Publishes Home Assistant discovery for the bridge's devices."""

    def __init__(
        self,
        client: MqttClient,
        topics: Topics,
        settings: DiscoverySettings,
        *,
        qos: int,
        refresh: float,
        swap_pause: float = SWAP_PAUSE,
    ) -> None:
        """Publish through ``client``; ``refresh`` ties ``expire_after`` to the state refresh."""
        self._client = client
        self._topics = topics
        self._settings = settings
        self._qos = qos
        self._refresh = refresh
        self._swap_pause = swap_pause
        self._retained: dict[str, dict[str, Any]] = {}
        """Discovery topics of this instance found at start, with their payloads."""
        self._scan_token: str | None = None
        self._scan_done = asyncio.Event()
        self._announced: dict[str, Announcement] = {}
        """Per device: what was last published."""
        self._swapping: set[str] = set()
        """Devices whose old discovery was just removed, announced again after a pause."""
        self._to_clear: dict[str, list[str]] = {}
        """Per device: topics of the other discovery form, emptied once it is announced."""
        self._swaps: set[asyncio.Task[None]] = set()

    # --- At start -------------------------------------------------------------------------
    async def clean_up(self, devices: Iterable[BridgeDevice]) -> None:
        """Read the retained discovery configs of this instance and remove what is stale."""
        self._scan_token = uuid.uuid4().hex
        self._scan_done.clear()
        filters = (*self._topics.discovery_filters, self._topics.bridge_sync)
        confirmations = [self._client.subscribe(topic, qos=0) for topic in filters]
        try:
            async with asyncio.timeout(SCAN_TIMEOUT):
                await asyncio.gather(*(c for c in confirmations if c is not None))
                # Retained messages come with the subscription; the token follows them (brokers
                # that do not keep that order get the token again a moment later).
                while not self._scan_done.is_set():
                    self._client.publish(self._topics.bridge_sync, self._scan_token)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(SYNC_RETRY):
                            await self._scan_done.wait()
        except TimeoutError:
            _LOGGER.warning("Could not read the retained discovery in time; no clean-up this start")
            return
        finally:
            for topic in filters:
                self._client.unsubscribe(topic)
            self._scan_token = None
        self._remove_stale({device.id: device for device in devices})

    def scanned(self, message: Message) -> bool:
        """Take a message during the start-up scan; False when it is not one of ours."""
        if self._scan_token is None:
            return False
        if message.topic == self._topics.bridge_sync:
            if message.payload.decode(errors="replace") == self._scan_token:
                self._scan_done.set()
            return True
        if self._topics.parse_discovery(message.topic) is None:
            return message.topic.startswith(self._topics.discovery_prefix + "/")
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = {}
        self._retained[message.topic] = payload if isinstance(payload, dict) else {}
        return True

    def _remove_stale(self, devices: dict[str, BridgeDevice]) -> None:
        """Empty the configs of devices and components that are gone; prepare migrations."""
        nodes = {self._topics.node(device_id): device for device_id, device in devices.items()}
        per_component = self._settings.per_component
        for topic in sorted(self._retained):
            parsed = self._topics.parse_discovery(topic)
            assert parsed is not None  # only this instance's topics are kept
            device = nodes.get(parsed.node)
            if device is None:
                _LOGGER.info("Removing the discovery of a device no longer configured: %s", topic)
                self._client.publish(topic, "", retain=True)
                continue
            device_form = parsed.platform == DEVICE_COMPONENT
            if device_form == per_component:
                self._client.publish(topic, MIGRATE, retain=True)
                self._to_clear.setdefault(device.id, []).append(topic)
            elif per_component and topic not in self._expected_components(device):
                self._client.publish(topic, "", retain=True)

    def _expected_components(self, device: BridgeDevice) -> set[str]:
        """Return the per-component topics a device's entities take."""
        return {
            self._topics.component_discovery(spec.platform.value, device.id, spec.key)
            for spec in device.entities
        }

    # --- Announcing -------------------------------------------------------------------------
    def announce(self, device: BridgeDevice, *, force: bool = False) -> None:
        """Publish the device's discovery if its uid is known and it changed (or ``force``)."""
        if not self._settings.enabled or device.id in self._swapping:
            return
        announcement = device.announcement(qos=self._qos, refresh=self._refresh)
        if announcement is None:
            return
        if not force and self._announced.get(device.id) == announcement:
            return
        previous_uid = self._previous_uid(device)
        if previous_uid is not None and previous_uid != announcement.uid:
            _LOGGER.warning(
                "%s now answers as %s (was %s): replacing its Home Assistant device",
                device.describe(),
                announcement.uid,
                previous_uid,
            )
            self._clear(device)
            self._swapping.add(device.id)
            task = asyncio.get_running_loop().create_task(
                self._announce_later(device, announcement)
            )
            self._swaps.add(task)
            task.add_done_callback(self._swaps.discard)
            return
        self._publish(device, announcement)

    async def _announce_later(self, device: BridgeDevice, announcement: Announcement) -> None:
        """Announce a swapped device after Home Assistant has removed the old one."""
        await asyncio.sleep(self._swap_pause)
        self._swapping.discard(device.id)
        self._publish(device, announcement)

    def _publish(self, device: BridgeDevice, announcement: Announcement) -> None:
        """Publish the configs, then empty the other form's topics (a finished migration)."""
        for topic, payload in self._configs(device, announcement):
            self._client.publish(topic, encode(payload), retain=True)
        self._announced[device.id] = announcement
        for topic in self._to_clear.pop(device.id, []):
            self._client.publish(topic, "", retain=True)
        _LOGGER.debug("Announced %s as %s", device.describe(), announcement.uid)

    def _configs(
        self, device: BridgeDevice, announcement: Announcement
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return the discovery topics and payloads, removing components the device dropped."""
        if self._settings.per_component:
            return component_configs(self._topics, announcement)
        topic, payload = device_config(self._topics, announcement)
        if device.id not in self._announced:
            payload["cmps"].update(removed_components(self._retained.get(topic), device.entities))
        return [(topic, payload)]

    def _previous_uid(self, device: BridgeDevice) -> str | None:
        """Return the uid last announced for the device, this run or in a retained config."""
        if device.id in self._announced:
            return self._announced[device.id].uid
        node = self._topics.node(device.id)
        for topic, payload in self._retained.items():
            parsed = self._topics.parse_discovery(topic)
            if parsed is None or parsed.node != node:
                continue
            ids = payload.get("dev", payload.get("device", {})).get("ids")
            if isinstance(ids, list) and ids:
                return str(ids[0])
        return None

    def _clear(self, device: BridgeDevice) -> None:
        """Empty every discovery config the device has, in either form."""
        node = self._topics.node(device.id)
        if self._settings.per_component:
            topics = self._expected_components(device)
        else:
            topics = {self._topics.device_discovery(device.id)}
        topics |= {
            t for t in self._retained if (p := self._topics.parse_discovery(t)) and p.node == node
        }
        for topic in sorted(topics):
            self._client.publish(topic, "", retain=True)
        self._announced.pop(device.id, None)
        self._retained = {t: p for t, p in self._retained.items() if t not in topics}
