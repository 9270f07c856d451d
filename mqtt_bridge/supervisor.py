"""The supervisor: wires the engine, the client, the publisher, discovery and commands together.

Its lifecycle:

1. Build a session per configured device (one shared bus per link).
2. Connect to the broker (retrying with back-off while it is away); on every
   connect publish ``<base>/bridge/state`` = ``online`` and the bridge's info.
3. Once, at start: read the retained discovery and remove what is stale.
4. Poll every link in its scheduler's order; after each device's poll, announce it
   (once its uid is known) and publish what changed. A link whose polling fails
   in an unexpected way is restarted after a back-off; a device error never
   stops the bridge.
5. On every reconnect and every Home Assistant birth message (``online`` on its
   status topic): publish discovery, availability and state again.
6. On stop: publish ``offline``, wait for the broker to take it, disconnect,
   close the links.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging
import time
from typing import Any

from powerbus import ConfigError, DeviceSession, DeviceSnapshot, LinkRegistry, Scheduler

from .announcer import Announcer
from .client import Message, MqttClient
from .commands import CommandHandler
from .config import BridgeConfigError
from .devices import BridgeDevice, build_devices
from .discovery import bridge_version
from .publisher import Publisher
from .settings import BridgeSettings, LinkEntry
from .topics import OFFLINE, ONLINE, Topics

_LOGGER = logging.getLogger(__name__)

RESTART_MIN = 1.0
RESTART_MAX = 60.0


class Bridge:
    """One bridge instance: its devices, its broker connection and its lifecycle."""

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        registry: LinkRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build every device's session; a link set up two incompatible ways is a config error."""
        self.settings = settings
        self.topics = Topics.of(
            settings.mqtt.base_topic, settings.instance, settings.discovery.prefix
        )
        self._registry = registry or LinkRegistry()
        self._clock = clock
        try:
            self._links = build_devices(
                settings.links, self._registry, settings.discovery.vocabulary
            )
        except ConfigError as err:
            self._registry.close_all()
            raise BridgeConfigError([f"links: {err}"]) from err
        self.devices = {device.id: device for _link, devices in self._links for device in devices}
        self._by_session: dict[DeviceSession, BridgeDevice] = {
            device.session: device for device in self.devices.values()
        }
        self._ready = False
        self._info: dict[str, tuple[str | None, bool]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.client: MqttClient | None = None
        self.publisher: Publisher | None = None
        self._announcer: Announcer | None = None
        self._commands: CommandHandler | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down cleanly."""
        settings = self.settings
        client = MqttClient(
            settings.mqtt,
            will=(self.topics.bridge_state, OFFLINE),
            on_connected=self._connected,
            on_message=self._received,
        )
        self.client = client
        self.publisher = Publisher(client, self.topics, settings.state, clock=self._clock)
        self._announcer = Announcer(
            client,
            self.topics,
            settings.discovery,
            qos=settings.mqtt.qos,
            refresh=settings.state.refresh,
        )
        self._commands = CommandHandler(client, self.topics, self.devices, changed=self._changed)
        pollers: list[asyncio.Task[None]] = []
        try:
            await client.start()
            if not await _until(stop, client.wait_connected()):
                return
            if settings.discovery.enabled:
                await self._announcer.clean_up(self.devices.values())
            self._commands.subscribe()
            client.subscribe(settings.discovery.status_topic)
            self._ready = True
            _LOGGER.info(
                "Bridge %s serves %d devices on %d links under %s",
                settings.instance,
                len(self.devices),
                len(self._links),
                self.topics.base,
            )
            pollers = [
                asyncio.get_running_loop().create_task(self._poll_link(link, devices))
                for link, devices in self._links
            ]
            await stop.wait()
        finally:
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
            await self._commands.stop()
            await client.stop([(self.topics.bridge_state, OFFLINE)])
            self._registry.close_all()
            _LOGGER.info("Bridge %s stopped", settings.instance)

    # --- Polling ----------------------------------------------------------------------------
    async def _poll_link(self, link: LinkEntry, devices: list[BridgeDevice]) -> None:
        """Poll one link's devices for ever; restart after an unexpected failure."""
        scheduler = Scheduler([device.session for device in devices], clock=self._clock)
        delay = RESTART_MIN
        while True:
            try:
                await self._run_scheduler(scheduler)
            except Exception:  # noqa: BLE001 - one link's fault must not stop the others
                _LOGGER.exception(
                    "Polling link %s failed; starting it again in %.0f s", link.name, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_MAX)

    async def _run_scheduler(self, scheduler: Scheduler) -> None:
        """Poll the link's due devices in order, publishing each one as soon as it was polled."""
        await scheduler.run(self._polled)

    def _polled(self, session: DeviceSession, snapshot: DeviceSnapshot) -> None:
        """Announce and publish a device after its poll."""
        device = self._by_session[session]
        assert self.publisher is not None and self._announcer is not None
        self._announcer.announce(device)
        self.publisher.device_polled(device, snapshot)
        if self._info.get(device.id) != (snapshot.uid, snapshot.available):
            self._info[device.id] = (snapshot.uid, snapshot.available)
            self._publish_info()

    def _changed(self, device: BridgeDevice) -> None:
        """Publish a device's state right after a change, without waiting for its next poll."""
        assert self.publisher is not None
        self.publisher.device_polled(device, device.session.snapshot)

    # --- Broker events ----------------------------------------------------------------------
    async def _connected(self) -> None:
        """Publish online, the bridge's info and (once started) everything else again."""
        assert self.client is not None
        self.client.publish(self.topics.bridge_state, ONLINE, retain=True)
        self._publish_info()
        if self._ready:
            self._republish()

    def _received(self, message: Message) -> None:
        """Route a message: the start-up scan, Home Assistant's birth, or a request."""
        assert self._announcer is not None and self._commands is not None
        if self._announcer.scanned(message):
            return
        if message.topic == self.settings.discovery.status_topic:
            if message.payload.strip() == ONLINE.encode() and self._ready:
                _LOGGER.info("Home Assistant is online: publishing discovery and state again")
                self._republish()
            return
        self._commands.handle(message)

    def _republish(self) -> None:
        """Publish discovery, availability and state of every device again."""
        assert self._announcer is not None and self.publisher is not None
        for device in self.devices.values():
            self._announcer.announce(device, force=True)
        self.publisher.republish(self.devices.values())

    def _publish_info(self) -> None:
        """Publish what this bridge is and which devices it serves (retained JSON)."""
        assert self.client is not None
        info: dict[str, Any] = {
            "version": bridge_version(),
            "instance": self.settings.instance,
            "devices": [
                {
                    "id": device.id,
                    "name": device.settings.name,
                    "profile": device.settings.profile.key,
                    "unit": device.settings.unit,
                    "link": device.link.url,
                    "uid": device.session.uid,
                    "available": device.session.available,
                }
                for device in self.devices.values()
            ],
        }
        self.client.publish(self.topics.bridge_info, json.dumps(info), retain=True)


async def _until(stop: asyncio.Event, awaitable: Any) -> bool:
    """Wait for ``awaitable`` unless ``stop`` is set first; True when it finished."""
    waiting = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    done, pending = await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waiting in done
