"""Scanning a line: fast over absent unit ids, every answering device listed, recognised or not.

The timing tests run on the fake link and clock (``tests/engine/fakes.py``), so a 247-unit
scan takes no real time; the end-to-end tests run ``powerbus scan`` against simulated
devices over Modbus TCP and over RTU on a socat pty pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import re

import pytest

from powerbus.bus import RetryPolicy
from powerbus.cli import main
from powerbus.cli.scan import default_units
from powerbus.link import LinkKind, LinkSettings
from powerbus.models import Table
from powerbus.profile import get_profile, parse_profile_text
from powerbus.scanner import TCP_PROBE_TIMEOUT, ScanPhase, ScanProgress, scan
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.device import RegisterImage
from powerbus.simulator.server import Simulator
from tests.engine.fakes import RTU_LINK, TCP_LINK, FakeClock, FakeTransport, SimUnit, make_bus

HR = Table.HOLDING_REGISTER
LINE = list(range(1, 248))
METER_YAML = """
family: scanmeter
manufacturer: Test Instruments
addressing: pdu
point_sets:
  all:
    - {key: serial_number, name: Serial number, address: 0, table: holding_register, data_type: hex, count: 2, group: once}
variants:
  - key: scanmeter
    name: Scan meter
    detect: [{address: 0, count: 2}, {address: 2, expect: {in: [0x5343]}}]
    serial_point: serial_number
    point_sets: [all]
"""
METERS = {5: 0x0000_1111, 100: 0x0000_2222}
REFUSING_UNIT = 200


def meter_line(link: FakeTransport) -> None:
    """Put two meters and a unit that refuses every read on a fake line of 247 unit ids."""
    for unit, serial in METERS.items():
        link.add_unit(unit).put_raw(HR, 0, [serial >> 16, serial & 0xFFFF, 0x5343])
    link.units[REFUSING_UNIT] = SimUnit(refused=[(table, 0, 0xFFFF) for table in Table])


@pytest.mark.parametrize("settings", [TCP_LINK, RTU_LINK], ids=["tcp", "rtu"])
async def test_a_line_of_247_unit_ids_scans_in_under_30_seconds(settings: LinkSettings) -> None:
    """Each silent unit costs one short try; the devices are found, the refusing one listed."""
    clock = FakeClock()
    link = FakeTransport(clock, latency=0.01)
    meter_line(link)
    bus = make_bus(link, clock, settings, policy=RetryPolicy(retries=2))
    await bus.open()
    profile = parse_profile_text(METER_YAML, "scanmeter.yaml")["scanmeter"]

    result = await scan(bus, LINE, [profile], clock=clock)

    assert result.seconds < 30
    assert [(found.unit, found.serial) for found in result] == [(5, "00001111"), (100, "00002222")]
    assert [unit.unit for unit in result.unrecognised] == [REFUSING_UNIT]
    assert "exception 0x02 (illegal data address)" in result.unrecognised[0].answers
    silent = set(LINE) - {*METERS, REFUSING_UNIT}
    assert all(len(link.requests(unit)) == 1 for unit in silent)
    assert {r.outcome for unit in silent for r in link.requests(unit)} == {"timeout"}


async def test_a_connection_dropped_among_silent_units_is_reopened_and_the_scan_goes_on() -> None:
    """Some clients drop a TCP connection after a few silent requests; the scan reconnects."""
    clock = FakeClock()
    link = FakeTransport(clock)
    meter_line(link)
    link.fault(3, "lost")
    bus = make_bus(link, clock, TCP_LINK)
    await bus.open()

    result = await scan(bus, [2, 3, 4, 5], [], clock=clock)

    assert [unit.unit for unit in result.unrecognised] == [5]
    assert link.opens == 2


async def test_progress_never_goes_back_and_estimates_the_time_left() -> None:
    """On a silent line every unit costs the same, so the estimate is the time still to come."""
    clock = FakeClock()
    link = FakeTransport(clock)
    bus = make_bus(link, clock, RTU_LINK)
    await bus.open()
    steps: list[ScanProgress] = []

    result = await scan(bus, LINE, [], steps.append, clock=clock)

    assert [step.probed for step in steps] == LINE
    assert {step.phase for step in steps} == {ScanPhase.PROBING}
    fractions = [step.fraction for step in steps]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    for step in steps[9::30]:
        left = result.seconds - step.elapsed
        assert step.seconds_left == pytest.approx(left, rel=0.05)


@pytest.mark.parametrize(("baudrate", "answer_after"), [(1200, 0.2), (9600, 0.075)])
async def test_a_slow_line_gives_each_unit_the_time_its_answer_takes(
    baudrate: int, answer_after: float
) -> None:
    """At 1200 Bd the probe and its answer alone take 0.15 s; the device is still found."""
    clock = FakeClock()
    link = FakeTransport(clock, latency=answer_after)
    meter_line(link)
    settings = LinkSettings(kind=LinkKind.RTU, serial_port="/dev/ttyFAKE0", baudrate=baudrate)
    bus = make_bus(link, clock, settings)
    await bus.open()

    result = await scan(bus, [4, 5, 6], [], clock=clock)

    assert [unit.unit for unit in result.unrecognised] == [5]


def test_a_tcp_scan_also_asks_the_gateways_own_unit_ids() -> None:
    """An EGX answers for itself at 254 or 255; serial lines stop at 247."""
    tcp = LinkSettings(kind=LinkKind.TCP, host="127.0.0.1", port=502)
    rtu = LinkSettings(kind=LinkKind.RTU, serial_port="/dev/ttyUSB0")

    assert default_units(tcp) == [*LINE, 254, 255]
    assert default_units(rtu) == LINE


@pytest.fixture(params=["tcp", "rtu"])
async def line(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Serve a PRO380 (1), a Liebert GXT2 (3), a foreign device (5) and a refusing one (6)."""
    pro380 = simulated_device(get_profile("pro380"))
    pro380.paused = True
    devices = {
        1: pro380,
        3: simulated_device(get_profile("liebert_gxt2")),
        5: RegisterImage({HR: {0: 7}}),
        6: RegisterImage({}),
    }
    simulator = Simulator(devices)
    if request.param == "tcp":
        link = f"tcp://127.0.0.1:{await simulator.start_tcp('127.0.0.1', 0)}"
    else:
        server_end, client_end = request.getfixturevalue("serial_pair")
        await simulator.start_rtu(server_end, baudrate=38400, parity="N", stopbits=1)
        link = f"rtu://{client_end}?baudrate=38400&parity=N&stopbits=1"
    yield link
    await simulator.stop()


async def run_cli(*argv: str) -> int:
    """Run the ``powerbus`` command line in a worker thread, so the simulator keeps serving."""
    return await asyncio.to_thread(main, list(argv))


async def test_scan_lists_recognised_devices_and_the_ones_that_only_answer(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table of recognised devices, then the units that answer but fit no profile."""
    assert await run_cli("scan", line, "--units", "1-8") == 0
    captured = capsys.readouterr()

    lines = captured.out.splitlines()
    assert re.match(r"\s*1\s+pro380\s+pro380\s+22091039\s+2\.18$", lines[2])
    assert re.match(r"\s*3\s+liebert\s+liebert_gxt2\s+—\s+—$", lines[3])
    assert lines[5] == "answers, not recognised:"
    assert re.match(r"\s*5\s+1 of \d+ reads answered, the others refused with 0x02", lines[8])
    assert re.match(r"\s*6\s+answers every read with exception 0x02", lines[9])
    assert captured.err.splitlines()[-1].endswith(": 2 recognised, 2 not recognised")
    assert "about" in captured.err


async def test_scan_json_names_family_candidates_and_unrecognised_units(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON document carries what the table shows, candidates included."""
    assert await run_cli("scan", line, "--units", "1-8", "--json") == 0
    document = json.loads(capsys.readouterr().out)

    assert document["probed"] == 8
    assert [
        (d["unit"], d["family"], d["profile"], d["candidates"]) for d in document["devices"]
    ] == [(1, "pro380", "pro380", ["pro380"]), (3, "liebert", "liebert_gxt2", ["liebert_gxt2"])]
    assert [u["unit"] for u in document["unrecognised"]] == [5, 6]


async def test_a_line_where_nothing_answers_exits_1_quickly(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Silent unit ids cost the short probe timeout each, once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await run_cli("scan", line, "--units", "10-29") == 1
    assert loop.time() - started < 20 * TCP_PROBE_TIMEOUT + 2.0
    assert "no device answered" in capsys.readouterr().err
