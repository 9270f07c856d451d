"""The link registry: one shared, reference-counted bus per physical link; conflicting settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from powerbus.bus import RetryPolicy
from powerbus.link import LinkKind, LinkSettings, parse_link
from powerbus.models import Table
from powerbus.registry import LinkConflictError, LinkRegistry

from .fakes import FakeClock, FakeTransport

pytestmark = pytest.mark.hardware_free


@pytest.fixture
def clock() -> FakeClock:
    """Return the fake clock."""
    return FakeClock()


@pytest.fixture
def links() -> list[FakeTransport]:
    """Return the fake links the registry built, in order."""
    return []


@pytest.fixture
def registry(clock: FakeClock, links: list[FakeTransport]) -> LinkRegistry:
    """Return a registry whose buses run on fake links and the fake clock."""

    def build(settings: LinkSettings, on_traffic: object) -> FakeTransport:
        link = FakeTransport(clock)
        link.add_unit(1).put_raw(Table.HOLDING_REGISTER, 0, [len(links) + 1])
        links.append(link)
        return link

    return LinkRegistry(
        transport_factory=build, policy=RetryPolicy(retries=0), clock=clock, sleep=clock.sleep
    )


def serial(path: Path | str, **line: object) -> LinkSettings:
    """Return an RTU link on ``path`` with the line settings given (9600 8E1 unless told)."""
    settings: dict[str, object] = {"baudrate": 9600, "parity": "E", "stopbits": 1, "bytesize": 8}
    settings.update(line)
    return LinkSettings(kind=LinkKind.RTU, serial_port=str(path), **settings)  # type: ignore[arg-type]


@pytest.fixture
def by_id(tmp_path: Path) -> tuple[Path, Path]:
    """Return a serial device and a stable by-id name pointing at it."""
    device = tmp_path / "ttyUSB0"
    device.touch()
    stable = tmp_path / "usb-FTDI_FT232R_A1-if00-port0"
    stable.symlink_to(device)
    return device, stable


def test_one_port_through_a_symlink_is_one_bus(
    registry: LinkRegistry, by_id: tuple[Path, Path], links: list[FakeTransport]
) -> None:
    """A port named by its by-id link and by its device name is one line, one bus."""
    device, stable = by_id
    first = registry.acquire(serial(stable))
    second = registry.acquire(serial(device))
    assert first is second
    assert len(links) == 1
    assert registry.users(serial(device)) == 2


def test_two_ports_are_two_buses(registry: LinkRegistry, tmp_path: Path) -> None:
    """Separate adapters are separate lines."""
    assert registry.acquire(serial(tmp_path / "ttyUSB0")) is not registry.acquire(
        serial(tmp_path / "ttyUSB1")
    )


@pytest.mark.parametrize(
    ("line", "setting"),
    [
        ({"baudrate": 19200}, "baudrate"),
        ({"parity": "N"}, "parity"),
        ({"stopbits": 2}, "stopbits"),
        ({"bytesize": 7}, "bytesize"),
    ],
)
def test_another_line_setting_on_one_port_is_a_conflict(
    registry: LinkRegistry, by_id: tuple[Path, Path], line: dict[str, object], setting: str
) -> None:
    """Two devices cannot ask one wire for two speeds: the error names the setting."""
    device, stable = by_id
    registry.acquire(serial(stable))
    with pytest.raises(LinkConflictError, match=setting) as caught:
        registry.acquire(serial(device, **line))
    assert caught.value.key == f"link.{setting}"
    assert registry.users(serial(stable)) == 1


def test_tcp_and_rtu_over_tcp_to_one_endpoint_conflict(registry: LinkRegistry) -> None:
    """One gateway port speaks one framing."""
    registry.acquire(parse_link("tcp://Gateway.local:502"))
    with pytest.raises(LinkConflictError, match="kind") as caught:
        registry.acquire(parse_link("rtu+tcp://gateway.local:502"))
    assert caught.value.key == "link.kind"


def test_one_endpoint_is_one_bus_whatever_the_case_of_its_name(registry: LinkRegistry) -> None:
    """Host names are not case-sensitive; other ports are other endpoints."""
    first = registry.acquire(parse_link("tcp://Gateway.local:502"))
    assert registry.acquire(parse_link("tcp://gateway.local:502")) is first
    assert registry.acquire(parse_link("tcp://gateway.local:503")) is not first


async def test_the_last_release_closes_the_link(
    registry: LinkRegistry, links: list[FakeTransport]
) -> None:
    """A shared bus stays open until its last user lets go; then a new one is built."""
    settings = parse_link("tcp://127.0.0.1:502")
    bus = registry.acquire(settings)
    assert registry.acquire(settings) is bus
    assert await bus.read(1, Table.HOLDING_REGISTER, 0, 1) == [1]
    registry.release(bus)
    assert [link.connected for link in links] == [True]
    assert registry.users(settings) == 1
    registry.release(bus)
    assert [link.connected for link in links] == [False]
    assert registry.users(settings) == 0
    fresh = registry.acquire(settings)
    assert fresh is not bus
    assert await fresh.read(1, Table.HOLDING_REGISTER, 0, 1) == [2]  # a new link
    with pytest.raises(ValueError):
        registry.release(bus)


async def test_close_all_closes_every_link(registry: LinkRegistry, tmp_path: Path) -> None:
    """At shutdown every link is closed and forgotten."""
    buses = [
        registry.acquire(parse_link("tcp://127.0.0.1:502")),
        registry.acquire(serial(tmp_path / "ttyUSB0")),
    ]
    for bus in buses:
        await bus.open()
    registry.close_all()
    assert not any(bus.connected for bus in buses)
    assert registry.users(parse_link("tcp://127.0.0.1:502")) == 0
