"""Every MQTT topic the bridge publishes or listens to, in one place.

The bridge's own topics live under ``<base>`` = ``<base_topic>/<instance>``, so
several bridges share one broker without touching each other's topics:

=========================================  ==============================================
``<base>/bridge/state``                    ``online`` / ``offline`` (retained; the last will)
``<base>/bridge/info``                     version, instance and devices (retained JSON)
``<base>/<device>/availability``           ``online`` / ``offline`` (retained)
``<base>/<device>/state``                  every entity's value (retained JSON)
``<base>/<device>/statistics``             the bus statistics (retained JSON)
``<base>/<device>/<entity>``               one entity's value, when point topics are on
``<base>/<device>/<entity>/set``           change a switch, select or number; press a button
``<base>/<device>/command``                run a profile command (JSON)
``<base>/<device>/response``               the outcome of every change and command (JSON)
=========================================  ==============================================

Home Assistant discovery lives under its own prefix, keyed by a node id that
carries the instance (``powerbus-<instance>-<device>``): the clean-up at start
recognises its own nodes by that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

BRIDGE = "bridge"
RESERVED = frozenset({"availability", "state", "statistics", "command", "response", BRIDGE})
"""Topic segments a device id or an entity key must not take."""
ONLINE = "online"
OFFLINE = "offline"
SET = "set"
COMMAND = "command"
DEVICE_COMPONENT = "device"
NODE_PREFIX = "powerbus"


@dataclass(frozen=True, kw_only=True, slots=True)
class DiscoveryTopic:
    """A discovery config topic, split: the platform (or ``device``), node and component."""

    platform: str
    node: str
    component: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Topics:
    """The topics of one bridge instance."""

    base: str
    """``<base_topic>/<instance>``."""
    instance: str
    discovery_prefix: str

    @classmethod
    def of(cls, base_topic: str, instance: str, discovery_prefix: str) -> Topics:
        """Return the topics of ``instance`` under ``base_topic``."""
        return cls(
            base=f"{base_topic}/{instance}", instance=instance, discovery_prefix=discovery_prefix
        )

    # --- The bridge -------------------------------------------------------------------------
    @property
    def bridge_state(self) -> str:
        """``online``/``offline``: the bridge's availability and its last will."""
        return f"{self.base}/{BRIDGE}/state"

    @property
    def bridge_info(self) -> str:
        """What this bridge is and serves (retained JSON)."""
        return f"{self.base}/{BRIDGE}/info"

    @property
    def bridge_sync(self) -> str:
        """A topic the bridge sends itself a message on, to know the broker sent all before it."""
        return f"{self.base}/{BRIDGE}/sync"

    # --- Devices ----------------------------------------------------------------------------
    def availability(self, device: str) -> str:
        """``online``/``offline`` of one device."""
        return f"{self.base}/{device}/availability"

    def state(self, device: str) -> str:
        """Every entity value of a device, as one JSON object."""
        return f"{self.base}/{device}/state"

    def statistics(self, device: str) -> str:
        """Return the topic of a device's bus statistics (one JSON object)."""
        return f"{self.base}/{device}/statistics"

    def point(self, device: str, key: str) -> str:
        """One entity's value alone."""
        return f"{self.base}/{device}/{key}"

    def set(self, device: str, key: str) -> str:
        """Where a change of one entity is asked for."""
        return f"{self.base}/{device}/{key}/{SET}"

    def command(self, device: str) -> str:
        """Where profile commands are asked for."""
        return f"{self.base}/{device}/{COMMAND}"

    def response(self, device: str) -> str:
        """Where the outcome of each change or command is reported."""
        return f"{self.base}/{device}/response"

    @property
    def set_filter(self) -> str:
        """The subscription that receives every entity change."""
        return f"{self.base}/+/+/{SET}"

    @property
    def command_filter(self) -> str:
        """The subscription that receives every profile command."""
        return f"{self.base}/+/{COMMAND}"

    def parse_request(self, topic: str) -> tuple[str, str | None] | None:
        """Return (device, entity) of a ``set`` topic, (device, None) of a command topic, or None."""
        if not topic.startswith(f"{self.base}/"):
            return None
        parts = topic[len(self.base) + 1 :].split("/")
        if len(parts) == 3 and parts[2] == SET:
            return parts[0], parts[1]
        if len(parts) == 2 and parts[1] == COMMAND:
            return parts[0], None
        return None

    # --- Home Assistant discovery -----------------------------------------------------------
    def node(self, device: str) -> str:
        """Return the discovery node id of a device: unique per instance, recognisable at clean-up."""
        return f"{NODE_PREFIX}-{self.instance}-{device}"

    def device_discovery(self, device: str) -> str:
        """Return the device-based discovery topic of a device."""
        return f"{self.discovery_prefix}/{DEVICE_COMPONENT}/{self.node(device)}/config"

    def component_discovery(self, platform: str, device: str, key: str) -> str:
        """Return the per-component discovery topic of one entity."""
        return f"{self.discovery_prefix}/{platform}/{self.node(device)}/{key}/config"

    @property
    def discovery_filters(self) -> tuple[str, ...]:
        """Subscriptions that receive every retained discovery config, of both forms."""
        prefix = self.discovery_prefix
        return (f"{prefix}/{DEVICE_COMPONENT}/+/config", f"{prefix}/+/+/+/config")

    def parse_discovery(self, topic: str) -> DiscoveryTopic | None:
        """Split a discovery topic of this instance; None for anyone else's."""
        if not topic.startswith(f"{self.discovery_prefix}/") or not topic.endswith("/config"):
            return None
        parts = topic[len(self.discovery_prefix) + 1 : -len("/config")].split("/")
        own = f"{NODE_PREFIX}-{self.instance}-"
        if len(parts) == 2 and parts[0] == DEVICE_COMPONENT and parts[1].startswith(own):
            return DiscoveryTopic(platform=DEVICE_COMPONENT, node=parts[1], component=None)
        if len(parts) == 3 and parts[0] != DEVICE_COMPONENT and parts[1].startswith(own):
            return DiscoveryTopic(platform=parts[0], node=parts[1], component=parts[2])
        return None
