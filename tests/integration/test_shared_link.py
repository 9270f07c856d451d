"""A link on Home Assistant's shared Modbus connection, and the link Powerbus owns where there is none.

Home Assistant 2026.10 and later share one connection per endpoint between integrations
(``homeassistant.components.modbus.async_get_unit``). There a Powerbus link and another
integration (a small one that holds a unit the way Home Assistant's own Modbus
integrations do) take turns on one connection, against simulated devices on real Modbus
TCP, RTU and RTU over TCP. On Home Assistant 2025.4, which shares no connections,
Powerbus owns the link. Each test runs where its path exists and is skipped elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
import subprocess
import sys
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

from custom_components.powerbus.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_FAST_INTERVAL,
    CONF_LINK_TYPE,
    CONF_NORMAL_INTERVAL,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_SLOW_INTERVAL,
    CONF_STOPBITS,
    DOMAIN,
    LinkType,
)
from custom_components.powerbus.coordinator import PowerbusCoordinator
from custom_components.powerbus.engine import (
    Bus,
    DecodeError,
    DeviceExceptionError,
    LinkError,
    Table,
    parse_link,
)
from custom_components.powerbus.release import link_registry
from custom_components.powerbus.settings import CONF_HOST, CONF_PORT, link_settings
from custom_components.powerbus.shared_link import core_modbus, serial_device_name
from custom_components.powerbus.shared_transport import SharedUnits, SharedUnitTransport
from powerbus import entity_unique_id, get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.clock import ManualClock
from powerbus.simulator.faults import (
    CorruptFrame,
    DropConnection,
    ExceptionAnswer,
    FaultPlan,
    NoAnswer,
)
from powerbus.simulator.server import Simulator

from .simulated import device_subentry

CORE = core_modbus()
shared_only = pytest.mark.skipif(
    CORE is None, reason="this Home Assistant shares no Modbus connections (2026.10 and later do)"
)
owned_only = pytest.mark.skipif(
    CORE is not None, reason="this Home Assistant shares Modbus connections"
)

METER, NEIGHBOURS_METER = 1, 2
SERIAL_NUMBER = 0x4000  # two holding registers
VOLTAGE_L1 = 0x5002  # a float in two holding registers
LCD_CYCLE_TIME = 0x4010  # writable, BCD seconds 1..30
NEIGHBOUR = "neighbour"
# Long poll intervals: what reaches the wire comes from the test, not from a timer.
RARELY = {CONF_FAST_INTERVAL: 600.0, CONF_NORMAL_INTERVAL: 600.0, CONF_SLOW_INTERVAL: 3600.0}
# A pseudo-terminal carries no parity: serial links in these tests are 8N1.
LINE = {CONF_BAUDRATE: 9600, CONF_PARITY: "N", CONF_STOPBITS: 1, CONF_BYTESIZE: 8}


class _NeighbourFlow(ConfigFlow):
    """The other integration's config flow: nothing but its existence."""

    VERSION = 1


@pytest.fixture(autouse=True)
def neighbour_flow() -> Iterator[None]:
    """Let Home Assistant set up the other integration's config entries."""
    with mock_config_flow(NEIGHBOUR, _NeighbourFlow):
        yield


@dataclass
class Meters:
    """Two simulated PRO380 meters on one bus (units 1 and 2) and the simulator serving them."""

    simulator: Simulator
    devices: dict[int, Any]

    @property
    def faults(self) -> FaultPlan:
        """The faults the simulator answers with."""
        return self.simulator.faults

    def holding(self, unit: int, address: int, count: int) -> list[int]:
        """Return what a meter holds in its registers (the wire must show the same)."""
        values: list[int] = self.devices[unit].read(Table.HOLDING_REGISTER, address, count)
        return values

    def value(self, key: str) -> float:
        """Return the value the meter at unit 1 shows for ``key``."""
        return float(self.devices[METER].get_value(key))


@pytest.fixture
async def meters(socket_enabled: None) -> AsyncIterator[Meters]:
    """Two simulated meters, served as each test starts them."""
    clock = ManualClock()  # the meters' values hold still unless a test moves it
    devices = {
        unit: simulated_device(get_profile("pro380"), clock=clock)
        for unit in (METER, NEIGHBOURS_METER)
    }
    simulator = Simulator(devices)
    yield Meters(simulator, devices)
    await simulator.stop()


@pytest.fixture
async def tcp_port(meters: Meters) -> int:
    """Serve the meters on Modbus TCP; return the port."""
    return await meters.simulator.start_tcp("127.0.0.1", 0)


@pytest.fixture
def serial_server(
    meters: Meters, serial_pair: tuple[str, str], free_tcp_port: int
) -> Iterator[int]:
    """Run a serial server (socat) on 127.0.0.1 that carries RTU frames to the meters' line.

    The meters answer on one end of a virtual serial line (the test starts them there);
    socat passes the frames of one TCP connection to the other end. Yields its port.
    """
    line_end = serial_pair[1]
    socat = subprocess.Popen(
        [
            "socat",
            "-d",
            "-d",
            f"TCP-LISTEN:{free_tcp_port},bind=127.0.0.1,reuseaddr",
            f"FILE:{line_end},rawer",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert socat.stderr is not None
    with socat.stderr:
        try:
            while "listening on" not in (line := socat.stderr.readline()):
                assert line, "socat stopped before it listened"
            yield free_tcp_port
        finally:
            socat.terminate()
            socat.wait(timeout=5)


class FakeClock:
    """Monotonic seconds that move only when the bus sleeps or a test says so."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass at once."""
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def _link_entry(data: Mapping[str, Any]) -> MockConfigEntry:
    """Return a Powerbus link entry with the meter at unit 1, polling rarely."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Meters",
        data=dict(data),
        options=RARELY,
        subentries_data=[device_subentry("pro380", METER, uid="pro380_meter", title="Meter")],
    )


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> PowerbusCoordinator:
    """Add a Powerbus link entry, set it up and return its coordinator."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: PowerbusCoordinator = entry.runtime_data
    return coordinator


async def _poll(coordinator: PowerbusCoordinator) -> None:
    """Read every enabled point of the meter now."""
    for device in coordinator.devices.values():
        device.session.request_refresh()
    await coordinator.async_refresh()


def _state(hass: HomeAssistant, coordinator: PowerbusCoordinator, key: str) -> str:
    """Return the state of the meter's sensor ``key``."""
    device = next(iter(coordinator.devices.values()))
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, entity_unique_id(device.uid, key)
    )
    assert entity_id is not None, f"the meter has no sensor {key}"
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _other_integration(
    hass: HomeAssistant, set_up: Callable[[HomeAssistant, ConfigEntry], Any]
) -> tuple[ConfigEntry, Any]:
    """Set up another integration's config entry; return it and what ``set_up`` returned."""
    made: dict[str, Any] = {}

    async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        made[entry.entry_id] = set_up(hass, entry)
        return True

    async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        return True

    mock_integration(
        hass,
        MockModule(
            NEIGHBOUR, async_setup_entry=async_setup_entry, async_unload_entry=async_unload_entry
        ),
    )
    mock_platform(hass, f"{NEIGHBOUR}.config_flow", None)
    entry = MockConfigEntry(domain=NEIGHBOUR, title="Neighbour")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry, made[entry.entry_id]


async def _neighbour(hass: HomeAssistant, params: Any) -> tuple[ConfigEntry, Any]:
    """Set up another integration that holds the meter at unit 2 on core's connection."""
    assert CORE is not None
    get_unit = CORE.get_unit
    return await _other_integration(
        hass, lambda hass, entry: get_unit(hass, entry, params, NEIGHBOURS_METER)
    )


async def _shared_bus(hass: HomeAssistant, port: int, clock: FakeClock | None = None) -> Bus:
    """Return a bus on core's connection to 127.0.0.1:``port``, held by another entry."""
    assert CORE is not None
    core = CORE
    params = core.tcp_params(host="127.0.0.1", port=port)
    _, units = await _other_integration(
        hass, lambda hass, entry: SharedUnits(hass, entry, core, params, {})
    )
    timing = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
    return Bus(
        parse_link(f"tcp://127.0.0.1:{port}"),
        transport_factory=partial(SharedUnitTransport, units=units),
        **timing,
    )


def _connections(hass: HomeAssistant) -> dict[Any, dict[str, list[int]]]:
    """Return core's shared connections: endpoint -> the unit ids each entry holds."""
    assert CORE is not None
    return {info.endpoint: info.units for info in CORE.connection_info(hass)}


async def _both_read(
    coordinator: PowerbusCoordinator, neighbours_unit: Any, reads: int
) -> list[list[int]]:
    """Poll the link while the neighbour reads its meter's serial number; return its answers."""
    answers = await asyncio.gather(
        _poll(coordinator),
        *(neighbours_unit.read_holding_registers(SERIAL_NUMBER, 2) for _ in range(reads)),
    )
    return list(answers[1:])


async def _exchanges(bus: Bus) -> list[Any]:
    """Read, write and be refused in every table, one request each; return the outcomes."""
    requests: list[Awaitable[Any]] = [
        bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2),
        bus.read(METER, Table.HOLDING_REGISTER, VOLTAGE_L1, 10),
        bus.read(METER, Table.HOLDING_REGISTER, 0xFF00, 2),
        bus.read(METER, Table.INPUT_REGISTER, VOLTAGE_L1, 2),
        bus.read(METER, Table.COIL, 0, 10),
        bus.read(METER, Table.DISCRETE_INPUT, 0, 3),
        bus.write_registers(METER, LCD_CYCLE_TIME, [5]),
        bus.write_registers(METER, VOLTAGE_L1, [1, 2]),
        bus.write_coils(METER, 0, [True]),
        bus.write_coils(METER, 0, [True, False, True]),
    ]
    outcomes = []
    for request in requests:
        try:
            outcomes.append(await request)
        except DeviceExceptionError as refusal:
            outcomes.append(f"exception 0x{refusal.code:02x}")
    return outcomes


def test_a_serial_port_is_named_by_its_holders_spelling_else_by_id(tmp_path: Path) -> None:
    """A holder's alias of the same port wins, then the port's by-id name, then the path given."""
    port, by_id, other = tmp_path / "ttyUSB0", tmp_path / "by-id", tmp_path / "ttyUSB1"
    port.touch()
    other.touch()
    by_id.mkdir()
    (by_id / "usb-FTDI_FT232R-if00-port0").symlink_to(port)
    alias = tmp_path / "meters"
    alias.symlink_to(port)

    named = partial(serial_device_name, by_id=str(by_id))
    assert named(str(port), [str(other), str(alias)]) == str(alias)
    assert named(str(port), [str(other)]) == str(by_id / "usb-FTDI_FT232R-if00-port0")
    assert named(str(by_id / "usb-FTDI_FT232R-if00-port0"), []) == str(
        by_id / "usb-FTDI_FT232R-if00-port0"
    )
    assert named(str(other), []) == str(other)
    assert serial_device_name(str(other), [], by_id=str(tmp_path / "absent")) == str(other)


def test_no_shared_connections_without_home_assistants_modbus_integration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the modbus integration cannot be imported, Powerbus owns its links."""
    monkeypatch.setitem(sys.modules, "homeassistant.components.modbus", None)
    assert core_modbus() is None


@shared_only
async def test_a_link_and_another_integration_share_one_tcp_connection(
    hass: HomeAssistant, meters: Meters, tcp_port: int
) -> None:
    """Both read their own meter at the same time, over one connection, until both unload."""
    assert CORE is not None
    endpoint = ("tcp", "127.0.0.1", tcp_port)
    neighbour, unit = await _neighbour(hass, CORE.tcp_params(host="127.0.0.1", port=tcp_port))
    entry = _link_entry({CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: tcp_port})
    coordinator = await _set_up(hass, entry)

    assert _connections(hass) == {
        endpoint: {neighbour.entry_id: [NEIGHBOURS_METER], entry.entry_id: [METER]}
    }
    assert link_registry(hass).users(link_settings(entry.data)) == 0
    assert "modbus" in hass.config.components
    serial = meters.holding(NEIGHBOURS_METER, SERIAL_NUMBER, 2)
    assert await _both_read(coordinator, unit, 10) == [serial] * 10
    voltage = meters.value("voltage_l1")
    assert float(_state(hass, coordinator, "voltage_l1")) == pytest.approx(voltage, abs=0.1)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _connections(hass) == {endpoint: {neighbour.entry_id: [NEIGHBOURS_METER]}}
    assert await unit.read_holding_registers(SERIAL_NUMBER, 2) == serial
    assert await hass.config_entries.async_unload(neighbour.entry_id)
    await hass.async_block_till_done()
    assert _connections(hass) == {}


@shared_only
async def test_a_serial_port_is_shared_under_the_name_its_other_holder_uses(
    hass: HomeAssistant, meters: Meters, serial_pair: tuple[str, str]
) -> None:
    """A link configured by a symbolic link joins the connection opened by the real path.

    Two masters on one serial line garble each other's frames; on one connection both
    read their meter correctly while they poll at the same time.
    """
    assert CORE is not None
    meters_end, line_end = serial_pair
    await meters.simulator.start_rtu(meters_end, baudrate=9600, parity="N")
    real_path = str(Path(line_end).resolve())
    assert real_path != line_end
    neighbour, unit = await _neighbour(
        hass, CORE.serial_params(device=real_path, baudrate=9600, parity="N")
    )
    entry = _link_entry({CONF_LINK_TYPE: LinkType.SERIAL, CONF_SERIAL_PORT: line_end, **LINE})
    coordinator = await _set_up(hass, entry)

    assert _connections(hass) == {
        ("serial", real_path): {neighbour.entry_id: [NEIGHBOURS_METER], entry.entry_id: [METER]}
    }
    serial = meters.holding(NEIGHBOURS_METER, SERIAL_NUMBER, 2)
    assert await _both_read(coordinator, unit, 5) == [serial] * 5
    voltage = meters.value("voltage_l1")
    assert float(_state(hass, coordinator, "voltage_l1")) == pytest.approx(voltage, abs=0.1)
    for held in (entry, neighbour):
        assert await hass.config_entries.async_unload(held.entry_id)
    await hass.async_block_till_done()
    assert _connections(hass) == {}


@shared_only
async def test_rtu_over_tcp_joins_the_connection_core_names_for_it(
    hass: HomeAssistant, meters: Meters, serial_pair: tuple[str, str], serial_server: int
) -> None:
    """A serial server is one serial link on a socket:// device, as core names it."""
    assert CORE is not None
    await meters.simulator.start_rtu(serial_pair[0], baudrate=9600, parity="N")
    device = f"socket://127.0.0.1:{serial_server}"
    neighbour, unit = await _neighbour(hass, CORE.serial_params(device=device, baudrate=115200))
    entry = _link_entry(
        {CONF_LINK_TYPE: LinkType.RTU_OVER_TCP, CONF_HOST: "127.0.0.1", CONF_PORT: serial_server}
    )
    coordinator = await _set_up(hass, entry)

    assert _connections(hass) == {
        ("serial", device): {neighbour.entry_id: [NEIGHBOURS_METER], entry.entry_id: [METER]}
    }
    serial = meters.holding(NEIGHBOURS_METER, SERIAL_NUMBER, 2)
    assert await _both_read(coordinator, unit, 5) == [serial] * 5
    voltage = meters.value("voltage_l1")
    assert float(_state(hass, coordinator, "voltage_l1")) == pytest.approx(voltage, abs=0.1)
    for held in (entry, neighbour):
        assert await hass.config_entries.async_unload(held.entry_id)
    await hass.async_block_till_done()


@shared_only
async def test_a_port_held_with_other_line_settings_fails_set_up(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Another integration's connection at another baud rate keeps the link from setting up."""
    assert CORE is not None
    port = str(tmp_path / "ttyUSB0")
    neighbour, _ = await _neighbour(hass, CORE.serial_params(device=port, baudrate=19200))
    entry = _link_entry({CONF_LINK_TYPE: LinkType.SERIAL, CONF_SERIAL_PORT: port, **LINE})
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert _connections(hass) == {("serial", port): {neighbour.entry_id: [NEIGHBOURS_METER]}}
    assert await hass.config_entries.async_unload(neighbour.entry_id)


@shared_only
@pytest.mark.freeze_time(tick=True)
async def test_refusals_timeouts_and_recovery_work_on_a_shared_connection(
    hass: HomeAssistant, meters: Meters, tcp_port: int, freezer: FrozenDateTimeFactory
) -> None:
    """A refused register marks only its entity; a silent meter goes unavailable and comes back.

    The neighbour on the same connection reads its meter all along.
    """
    assert CORE is not None
    neighbour, unit = await _neighbour(hass, CORE.tcp_params(host="127.0.0.1", port=tcp_port))
    entry = _link_entry({CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: tcp_port})
    coordinator = await _set_up(hass, entry)
    meter = next(iter(coordinator.devices.values()))

    meters.faults.add(
        ExceptionAnswer(code=0x02, times=None, unit_id=METER, addresses=range(VOLTAGE_L1, 0x5004))
    )
    await _poll(coordinator)
    assert _state(hass, coordinator, "voltage_l1") == "unavailable"
    voltage = meters.value("voltage_l2")
    assert float(_state(hass, coordinator, "voltage_l2")) == pytest.approx(voltage, abs=0.1)
    assert meter.session.learned_refusals()
    assert coordinator.bus.stats(METER).errors["exception_02"] >= 1

    meters.faults.clear()
    meters.faults.add(NoAnswer(times=None, unit_id=METER))
    await _poll(coordinator)
    assert _state(hass, coordinator, "voltage_l2") == "unavailable"
    assert coordinator.bus.stats(METER).timeouts >= 1
    serial = meters.holding(NEIGHBOURS_METER, SERIAL_NUMBER, 2)
    assert await unit.read_holding_registers(SERIAL_NUMBER, 2) == serial

    meters.faults.clear()
    # A meter that stopped answering is probed again at its poll interval.
    freezer.move_to(dt_util.utcnow() + timedelta(seconds=RARELY[CONF_FAST_INTERVAL]))
    await _poll(coordinator)
    assert float(_state(hass, coordinator, "voltage_l2")) == pytest.approx(voltage, abs=0.1)
    for held in (entry, neighbour):
        assert await hass.config_entries.async_unload(held.entry_id)
    await hass.async_block_till_done()


@shared_only
async def test_the_shared_connection_answers_and_counts_like_a_link_of_powerbus_own(
    hass: HomeAssistant, meters: Meters, tcp_port: int
) -> None:
    """Every request gets the same answer, refusal code and byte count over either transport.

    An address the meter does not have comes back as "illegal data address" (0x02), which
    is what the engine learns refusals from.
    """
    shared = await _shared_bus(hass, tcp_port)
    own = Bus(parse_link(f"tcp://127.0.0.1:{tcp_port}"))
    try:
        through_core = await _exchanges(shared)
        own_link = await _exchanges(own)
    finally:
        own.close()

    assert through_core == own_link
    assert through_core[0] == meters.holding(METER, SERIAL_NUMBER, 2)
    assert through_core[2] == "exception 0x02"
    assert meters.holding(METER, LCD_CYCLE_TIME, 1) == [5]
    mine, theirs = shared.stats(METER).as_dict(), own.stats(METER).as_dict()
    for counted in ("requests", "responses", "errors", "bytes_sent", "bytes_received"):
        assert mine[counted] == theirs[counted], counted


@shared_only
async def test_a_dropped_connection_is_reopened_and_a_damaged_answer_refused(
    hass: HomeAssistant, meters: Meters, tcp_port: int
) -> None:
    """A read that lost its connection is answered on a new one; a damaged answer is no value."""
    bus = await _shared_bus(hass, tcp_port)
    serial = meters.holding(METER, SERIAL_NUMBER, 2)
    assert await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2) == serial
    epoch = bus.epoch

    meters.faults.add(DropConnection(unit_id=METER))
    assert await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2) == serial
    assert bus.epoch == epoch + 1
    assert bus.stats(METER).errors["link"] == 1

    meters.faults.add(CorruptFrame(unit_id=METER))
    with pytest.raises(DecodeError):
        await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2)
    assert await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2) == serial


@shared_only
async def test_an_endpoint_that_is_down_is_tried_again_after_the_back_off(
    hass: HomeAssistant, socket_enabled: None, free_tcp_port: int
) -> None:
    """Nothing listens: the link is down, and is not tried again before the bus's back-off.

    A link of Powerbus's own fails the same way, with the same errors.
    """
    shared_clock, own_clock = FakeClock(), FakeClock()
    shared = await _shared_bus(hass, free_tcp_port, shared_clock)
    own = Bus(
        parse_link(f"tcp://127.0.0.1:{free_tcp_port}"), clock=own_clock, sleep=own_clock.sleep
    )
    for bus in (shared, own):
        with pytest.raises(LinkError):
            await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2)
    assert shared.stats(METER).errors == own.stats(METER).errors
    assert not shared.stats(METER).timeouts

    devices = {METER: simulated_device(get_profile("pro380"), clock=ManualClock())}
    simulator = Simulator(devices)
    await simulator.start_tcp("127.0.0.1", free_tcp_port)
    try:
        for bus in (shared, own):
            with pytest.raises(LinkError, match="next attempt"):
                await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2, retries=0)
        for clock in (shared_clock, own_clock):
            clock.now += shared.policy.reconnect_backoff_max
        serial = devices[METER].read(Table.HOLDING_REGISTER, SERIAL_NUMBER, 2)
        for bus in (shared, own):
            assert await bus.read(METER, Table.HOLDING_REGISTER, SERIAL_NUMBER, 2) == serial
    finally:
        own.close()
        await simulator.stop()


@owned_only
async def test_a_link_owns_its_connection_where_home_assistant_shares_none(
    hass: HomeAssistant, meters: Meters, tcp_port: int
) -> None:
    """On Home Assistant 2025.4 the link is Powerbus's own, and releasing it closes it."""
    entry = _link_entry({CONF_LINK_TYPE: LinkType.TCP, CONF_HOST: "127.0.0.1", CONF_PORT: tcp_port})
    coordinator = await _set_up(hass, entry)
    settings = link_settings(entry.data)

    assert "modbus" in hass.config.components
    assert link_registry(hass).users(settings) == 1
    await _poll(coordinator)
    voltage = meters.value("voltage_l1")
    assert float(_state(hass, coordinator, "voltage_l1")) == pytest.approx(voltage, abs=0.1)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert link_registry(hass).users(settings) == 0
    assert not coordinator.bus.connected


@shared_only
async def test_a_port_another_integration_holds_is_added_without_opening_it_again(
    hass: HomeAssistant, meters: Meters, serial_pair: tuple[str, str]
) -> None:
    """The link flow does not open a port core already has open for another integration.

    A serial port is opened exclusively: a second open to test it would fail although the
    port works, and the link would be refused as "cannot open".
    """
    assert CORE is not None
    meters_end, line_end = serial_pair
    await meters.simulator.start_rtu(meters_end, baudrate=9600, parity="N")
    _, unit = await _neighbour(hass, CORE.serial_params(device=line_end, baudrate=9600, parity="N"))
    assert await unit.read_holding_registers(SERIAL_NUMBER, 2)  # the port is open now

    flow = hass.config_entries.flow
    result = await flow.async_init(DOMAIN, context={"source": "user"})
    result = await flow.async_configure(result["flow_id"], {"next_step_id": LinkType.SERIAL})
    result = await flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: line_end, "family": "other"}
    )
    result = await flow.async_configure(
        result["flow_id"],
        {
            CONF_SERIAL_PORT: line_end,
            CONF_BAUDRATE: "9600",
            CONF_PARITY: "N",
            CONF_STOPBITS: "1",
            CONF_BYTESIZE: "8",
        },
    )
    await hass.async_block_till_done()

    assert result["type"] == "create_entry", result.get("errors")
    for entry in hass.config_entries.async_entries():
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
