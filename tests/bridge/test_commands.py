"""Changes and commands over MQTT: every path, and every refusal with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from mqtt_bridge.broker import Mosquitto
from mqtt_bridge.supervisor import Bridge
from powerbus import Table, load_profile_file
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.server import Simulator
from tests.relay_profile import RELAY_PROFILE

from .conftest import FAST, Devices, Watcher, config, running, settings_of


class Requests:
    """Sends requests to a running bridge and waits for their answers."""

    def __init__(self, watcher: Watcher, base: str) -> None:
        """Talk to the bridge whose topics start with ``base``."""
        self.watcher = watcher
        self.base = base

    async def set(self, device: str, entity: str, payload: str, *, retain: bool = False) -> Any:
        """Publish a set request; return the answer on the response topic."""
        return await self._ask(device, f"{self.base}/{device}/{entity}/set", payload, retain)

    async def command(self, device: str, payload: object) -> Any:
        """Publish a command request; return the answer."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return await self._ask(device, f"{self.base}/{device}/command", text, False)

    async def _ask(self, device: str, topic: str, payload: str, retain: bool) -> Any:
        response = f"{self.base}/{device}/response"
        before = self.watcher.count(response)
        self.watcher.publish(topic, payload, retain=retain)
        await self.watcher.wait(
            lambda: self.watcher.count(response) > before, f"an answer to {topic}"
        )
        answer = self.watcher.json(response)
        if retain:
            self.watcher.publish(topic, "", retain=True)
        return answer


@contextlib.asynccontextmanager
async def bridge_with(
    mosquitto: Mosquitto, url: str, watch: Callable[..., Watcher], **extra: Any
) -> AsyncIterator[tuple[Bridge, Requests]]:
    """Run a bridge with a PRO380 and a UPS; yield it and a way to send requests."""
    devices = extra.pop("devices", None) or [
        {
            "name": "Meter",
            "profile": "pro380",
            "unit": 1,
            "intervals": {"fast": FAST},
            "enable": ["lcd_cycle_time"],
            "commands": extra.pop("meter_commands", {}),
        },
        {"name": "UPS", "profile": "liebert_series600", "unit": 3, "intervals": {"fast": FAST}},
    ]
    settings = settings_of(config(mosquitto, url, devices=devices, **extra))
    base = f"powerbus/{settings.instance}"
    watcher = watch(f"{base}/#", f"{settings.discovery.prefix}/#")
    async with running(settings) as bridge:
        for device in bridge.devices:
            await watcher.wait(
                lambda d=device: watcher.json(f"{base}/{d}/state"), f"{device} state"
            )
        yield bridge, Requests(watcher, base)


async def test_a_select_change_reaches_the_device_and_the_state(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """tariff=t2 on the set topic: the meter switches, the answer is ok, the state follows."""
    async with bridge_with(mosquitto, devices.url, watch) as (_bridge, requests):
        answer = await requests.set("meter", "tariff", "t2")
        state = await requests.watcher.wait(
            lambda: (
                (s := requests.watcher.json(f"{requests.base}/meter/state"))
                and s["tariff"] == "t2"
                and s
            ),
            "the new tariff in the state",
        )
    assert answer["ok"] is True
    assert answer["result"] == {"value": "t2"}
    assert devices.units[1].read(Table.HOLDING_REGISTER, 0x6048, 1) == [2]
    assert state["tariff"] == "t2"


async def test_a_number_is_set_within_its_limits_and_refused_outside(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A number inside the profile's range is written; outside it, refused as invalid."""
    async with bridge_with(mosquitto, devices.url, watch) as (_bridge, requests):
        done = await requests.set("meter", "lcd_cycle_time", "12")
        refused = await requests.set("meter", "lcd_cycle_time", "99")
        not_a_number = await requests.set("meter", "lcd_cycle_time", "soon")
    assert done["ok"] is True
    assert refused["ok"] is False
    assert refused["error"] == "invalid"
    assert "outside" in refused["message"]
    assert not_a_number["error"] == "invalid"


async def test_a_button_press_runs_its_command(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Pressing the UPS's "silence alarm" button runs the command; the answer has its outcome."""
    async with bridge_with(mosquitto, devices.url, watch) as (_bridge, requests):
        answer = await requests.set("ups", "silence_alarm", "PRESS")
    assert answer["ok"] is True
    assert answer["result"]["outcome"]
    assert devices.units[3].behaviour.alarm_silenced is True  # type: ignore[union-attr]


async def test_a_profile_command_with_parameters(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """The command topic runs set_tariff with its JSON parameter and echoes the request id."""
    async with bridge_with(mosquitto, devices.url, watch) as (_bridge, requests):
        answer = await requests.command(
            "meter", {"command": "set_tariff", "params": {"tariff": "t2"}, "id": 41}
        )
        wrong = await requests.command(
            "meter", {"command": "set_tariff", "params": {"tariff": "t9"}, "id": 42}
        )
        unknown = await requests.command("meter", {"command": "self_destruct"})
        garbage = await requests.command("meter", "{not json")
    assert (answer["ok"], answer["id"], answer["command"]) == (True, 41, "set_tariff")
    assert answer["result"]["readback"]["tariff"] == 2
    assert (wrong["ok"], wrong["id"], wrong["error"]) == (False, 42, "invalid")
    assert "one of t1, t2" in wrong["message"]
    assert unknown["error"] == "invalid"
    assert "self_destruct" in unknown["message"]
    assert garbage["error"] == "invalid"


async def test_dangerous_commands_stay_off_unless_the_configuration_lists_them(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """reset_day_counter: refused by default (and no button); runs once listed as dangerous."""
    async with bridge_with(mosquitto, devices.url, watch) as (bridge, requests):
        as_button = await requests.set("meter", "reset_day_counter", "PRESS")
        as_command = await requests.command("meter", {"command": "reset_day_counter"})
        assert bridge.devices["meter"].entity("reset_day_counter") is None
    assert (as_button["ok"], as_button["error"]) == (False, "unknown")
    assert (as_command["ok"], as_command["error"]) == (False, "not_allowed")
    assert "commands.dangerous" in as_command["message"]
    allowed = {"dangerous": ["reset_day_counter"]}
    async with bridge_with(mosquitto, devices.url, watch, meter_commands=allowed) as (
        bridge,
        requests,
    ):
        pressed = await requests.set("meter", "reset_day_counter", "PRESS")
        assert bridge.devices["meter"].entity("reset_day_counter") is not None
    assert pressed["ok"] is True


async def test_what_the_allow_list_leaves_out_is_refused(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """commands.allow: [set_tariff] lets the command through and refuses the select."""
    only = {"allow": ["set_tariff"]}
    async with bridge_with(mosquitto, devices.url, watch, meter_commands=only) as (_b, requests):
        select = await requests.set("meter", "tariff", "t2")
        command = await requests.command(
            "meter", {"command": "set_tariff", "params": {"tariff": "t1"}}
        )
    assert (select["ok"], select["error"]) == (False, "not_allowed")
    assert command["ok"] is True


async def test_requests_the_bridge_cannot_take(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """Unknown device or entity, a sensor, a bad option, a retained request: each refused."""
    async with bridge_with(mosquitto, devices.url, watch) as (_bridge, requests):
        no_device = await requests.set("toaster", "tariff", "t2")
        no_entity = await requests.set("meter", "warp_drive", "1")
        sensor = await requests.set("meter", "voltage_l1", "230")
        option = await requests.set("meter", "tariff", "t7")
    assert no_device["error"] == "unknown"
    assert no_entity["error"] == "unknown"
    assert sensor["error"] == "invalid"
    assert (option["error"], "t7" in option["message"]) == ("invalid", True)


async def test_a_retained_request_is_not_carried_out_again(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """A set request left retained on the broker reaches a starting bridge: refused, not run."""
    data = config(mosquitto, devices.url)
    base = f"powerbus/{data['instance']}"
    watcher = watch(f"{base}/#")
    watcher.publish(f"{base}/main_meter/tariff/set", "t2", retain=True)
    try:
        async with running(settings_of(data)):
            answer = await watcher.wait(
                lambda: watcher.json(f"{base}/main_meter/response"), "the refusal"
            )
            await watcher.wait(lambda: watcher.json(f"{base}/main_meter/state"), "state")
    finally:
        watcher.publish(f"{base}/main_meter/tariff/set", "", retain=True)
    assert answer["error"] == "retained"
    assert watcher.json(f"{base}/main_meter/state")["tariff"] == "t1"


@pytest.fixture
def relay_profile(tmp_path: Path) -> Path:
    """Write a profiles directory holding a device with one writable coil (a switch)."""
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "relay.yaml").write_text(RELAY_PROFILE, encoding="utf-8")
    return directory


async def test_a_switch_from_a_user_profile(
    mosquitto: Mosquitto, relay_profile: Path, watch: Callable[..., Watcher]
) -> None:
    """A profile from profiles_dir with a coil becomes a switch; ON and OFF reach the device."""
    profile = load_profile_file(relay_profile / "relay.yaml")["test_relay"]
    relay = simulated_device(profile)
    async with Simulator({5: relay}) as simulator:
        port = await simulator.start_tcp("127.0.0.1", 0)
        devices = [{"name": "Relay", "profile": "test_relay", "intervals": {"fast": FAST}}]
        async with bridge_with(
            mosquitto,
            f"tcp://127.0.0.1:{port}",
            watch,
            devices=devices,
            profiles_dir=str(relay_profile),
        ) as (_bridge, requests):
            on = await requests.set("relay", "relay", "ON")
            assert relay.read(Table.COIL, 0, 1) == [True]
            off = await requests.set("relay", "relay", "OFF")
            assert relay.read(Table.COIL, 0, 1) == [False]
            bad = await requests.set("relay", "relay", "maybe")
    assert (on["ok"], off["ok"], bad["error"]) == (True, True, "invalid")


async def test_an_outlet_switch_runs_its_commands_once_listed_as_dangerous(
    mosquitto: Mosquitto, devices: Devices, watch: Callable[..., Watcher]
) -> None:
    """outlet_3 is published only when listed; OFF and ON write bit 2 to 40113 and 40112.

    Nothing reads an outlet back, so the switch is optimistic and has no state of its own.
    """
    ups = {
        "name": "UPS",
        "profile": "liebert_series600",
        "unit": 3,
        "intervals": {"fast": FAST},
        "enable": ["outlet_3"],
        "commands": {"dangerous": ["outlet_3"]},
    }
    behaviour: Any = devices.units[3].behaviour
    behaviour.outlets = 0b0111
    async with bridge_with(mosquitto, devices.url, watch, devices=[ups]) as (bridge, requests):
        assert bridge.devices["ups"].entity("outlet_4") is None, "not listed as dangerous"
        off = await requests.set("ups", "outlet_3", "OFF")
        after_off = behaviour.outlets
        on = await requests.set("ups", "outlet_3", "ON")
        after_on = behaviour.outlets
        state = requests.watcher.json(f"{requests.base}/ups/state")
        discovery = requests.watcher.json(bridge.topics.device_discovery("ups"))
    assert (off["ok"], off["value"], off["result"]["writes"]) == (True, False, 1)
    assert (after_off, after_on) == (0b0011, 0b0111)
    assert on["ok"] is True
    assert "outlet_3" not in state
    outlet = discovery["cmps"]["outlet_3"]
    assert outlet["opt"] is True and "stat_t" not in outlet
    assert (outlet["p"], outlet["dev_cla"], outlet["pl_off"]) == ("switch", "outlet", "OFF")
    assert "outlet_4" not in discovery["cmps"]
