"""The demo's terminal view: what the broker carries, drawn from the messages a subscriber sees.

The view is fed only by what arrives on the broker (a second MQTT client
subscribed to the bridge's topics), so it shows what any subscriber, Home
Assistant included, would get. :func:`render` is a pure function of the
:class:`View`, and fits an 80x24 terminal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import json
import time
from typing import Any

WIDTH = 80
HEIGHT = 24
RECENT = 6
HIGHLIGHTS = (
    ("ups_status", "status"),
    ("ups_on_battery", "on battery"),
    ("battery_charge", "charge"),
    ("battery_runtime", "runtime"),
    ("active_power", "power"),
    ("import_active_energy", "import"),
    ("voltage_l1", "L1"),
    ("frequency", "f"),
)
"""State keys the device lines show (the first four a device has), with a short label; the
units come from the discovery messages, as Home Assistant gets them."""


@dataclass
class DeviceView:
    """One device as the broker shows it."""

    id: str
    name: str = ""
    profile: str = ""
    availability: str = "?"
    state: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


@dataclass
class View:
    """Everything the screen shows."""

    title: str
    config: str
    subscribe: str
    devices: dict[str, DeviceView] = field(default_factory=dict)
    bridge: str = "?"
    messages: int = 0
    message_bytes: int = 0
    discovery: set[str] = field(default_factory=set)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT))
    mains_cut: bool = False
    notice: str = ""
    keys: bool = True
    cut_at: float | None = None
    """Monotonic time the mains were cut, until the on-battery state arrived."""

    def received(self, base: str, topic: str, payload: bytes, *, now: float | None = None) -> None:
        """Take one message seen on the broker."""
        self.messages += 1
        self.message_bytes += len(payload)
        if "/device/" in topic and topic.endswith("/config") and not topic.startswith(base):
            if payload:
                self.discovery.add(topic)
                self._discovery(base, topic, payload)
            return
        relative = topic.removeprefix(f"{base}/")
        self.recent.appendleft(f"{relative} ({len(payload)} B)")
        parts = relative.split("/")
        if parts == ["bridge", "state"]:
            self.bridge = payload.decode(errors="replace")
        elif parts == ["bridge", "info"]:
            self._info(payload)
        elif len(parts) == 2 and parts[1] == "availability":
            self._device(parts[0]).availability = payload.decode(errors="replace")
        elif len(parts) == 2 and parts[1] == "state":
            self._state(parts[0], payload, time.monotonic() if now is None else now)

    def _device(self, device_id: str) -> DeviceView:
        return self.devices.setdefault(device_id, DeviceView(id=device_id))

    def _info(self, payload: bytes) -> None:
        try:
            info = json.loads(payload)
        except ValueError:
            return
        for entry in info.get("devices", []):
            device = self._device(str(entry.get("id")))
            device.name = str(entry.get("name", ""))
            device.profile = str(entry.get("profile", ""))

    def _discovery(self, base: str, topic: str, payload: bytes) -> None:
        """Learn a device's units from its discovery message."""
        instance = base.rsplit("/", 1)[-1]
        node = topic.split("/")[-2]
        prefix = f"powerbus-{instance}-"
        if not node.startswith(prefix):
            return
        try:
            components = json.loads(payload).get("cmps", {})
        except (ValueError, AttributeError):
            return
        device = self._device(node.removeprefix(prefix))
        device.units = {
            key: str(component["unit_of_meas"])
            for key, component in components.items()
            if isinstance(component, dict) and "unit_of_meas" in component
        }

    def _state(self, device_id: str, payload: bytes, now: float) -> None:
        try:
            state = json.loads(payload)
        except ValueError:
            return
        if not isinstance(state, dict):
            return
        self._device(device_id).state = state
        if self.cut_at is not None and state.get("ups_on_battery") is True:
            self.notice = (
                f"on battery reached the broker {1000 * (now - self.cut_at):.0f} ms after the cut"
            )
            self.cut_at = None


def render(view: View) -> list[str]:
    """Draw the view as at most 24 lines of at most 80 characters."""
    traffic = f"{view.messages} messages, {view.message_bytes // 1024} KiB"
    lines = [
        view.title,
        view.config,
        f"bridge {view.bridge} | {traffic} | discovery: {len(view.discovery)} devices",
        f"watch it: {view.subscribe}",
        "",
        f"{'device':<14}{'profile':<19}{'avail':<8}values",
    ]
    lines.extend(
        f"{(device.name or device.id)[:13]:<14}{device.profile[:18]:<19}"
        f"{device.availability[:7]:<8}{_highlights(device)}"
        for device in sorted(view.devices.values(), key=lambda d: d.id)
    )
    lines.append("")
    lines.append("last published:")
    lines.extend(f"  {entry}" for entry in view.recent)
    lines.append("")
    if view.notice:
        lines.append(view.notice)
    if view.keys:
        action = "restore the UPS's mains" if view.mains_cut else "cut the UPS's mains"
        lines.append(f"[m] {action}   [q] or Ctrl-C quit")
    else:
        lines.append("Ctrl-C to quit")
    return [line[:WIDTH] for line in lines[:HEIGHT]]


def _highlights(device: DeviceView) -> str:
    """Return up to four telling values of a device's state, with their units."""
    shown = []
    for key, label in HIGHLIGHTS:
        if key in device.state:
            unit = device.units.get(key, "")
            shown.append(f"{label} {_value(device.state[key])}{' ' if unit else ''}{unit}")
        if len(shown) == 4:
            break
    return ", ".join(shown)


def _value(value: Any) -> str:
    """Show a value briefly."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return "?" if value is None else str(value)
