"""The ``powerbus`` command line against a simulated PRO380 served over real Modbus TCP (and RTU).

Most tests run ``main([...])`` in a worker thread while the simulator serves on the test's event
loop, so that they can look into the simulated device before and after. A few run the tool as a
separate process, the way a user does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

from powerbus.cli import main
from powerbus.models import Profile, Table
from powerbus.profile import builtin_profiles, get_profile
from powerbus.simulator.behaviours import simulated_device
from powerbus.simulator.device import RegisterImage
from powerbus.simulator.profile_device import ProfileDevice
from powerbus.simulator.server import Simulator

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PROFILE = (
    REPO_ROOT / "custom_components" / "powerbus" / "engine" / "profiles" / "pro380.yaml"
)
MODULE_COMMAND = [sys.executable, "-m", "powerbus"]
METER_UNIT = 1
PROCESS_TIMEOUT = 15.0
LISTENING = re.compile(r"on (tcp://127\.0\.0\.1:\d+)")

VALID_PROFILE = """
family: testmeter
manufacturer: Test Metering
point_sets:
  main:
    - {key: voltage, name: Voltage, address: 0, table: holding_register, data_type: f32, unit: V}
    - {key: frequency, name: Frequency, address: 2, table: holding_register, data_type: f32, unit: Hz}
variants:
  - {key: testmeter, name: Test meter, point_sets: [main]}
"""


@dataclass
class RecordingDevice:
    """A simulated device that notes every request reaching it."""

    device: ProfileDevice
    requests: list[tuple[str, Table, int]] = field(default_factory=list)

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Note the read and answer it from the device."""
        self.requests.append(("read", table, address))
        return self.device.read(table, address, count)

    def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
        """Note the write and hand it to the device."""
        self.requests.append(("write", table, address))
        self.device.write(table, address, values)


@dataclass
class Meter:
    """A simulated PRO380 on the bus, and the link that reaches it."""

    link: str
    device: ProfileDevice
    recorder: RecordingDevice

    @property
    def profile(self) -> Profile:
        """The profile the device is built from."""
        return self.device.profile


@pytest.fixture
async def meter() -> AsyncIterator[Meter]:
    """Serve a paused PRO380 (its values stay put) on a free 127.0.0.1 port as unit 1."""
    device = simulated_device(get_profile("pro380"))
    device.paused = True
    recorder = RecordingDevice(device)
    simulator = Simulator({METER_UNIT: recorder})
    port = await simulator.start_tcp("127.0.0.1", 0)
    try:
        yield Meter(link=f"tcp://127.0.0.1:{port}", device=device, recorder=recorder)
    finally:
        await simulator.stop()


async def run_cli(*argv: str) -> int:
    """Run the command line in a worker thread, so the simulator keeps serving meanwhile."""
    return await asyncio.to_thread(main, list(argv))


def parse_tables(text: str) -> list[list[dict[str, str]]]:
    """Every table in ``text``, as rows keyed by header; columns are where the rule line puts them."""
    lines = text.splitlines()
    tables = []
    for index, line in enumerate(lines):
        if index == 0 or not line.strip() or set(line) - {"-", " "}:
            continue
        spans = [match.span() for match in re.finditer(r"-+", line)]
        headers = [lines[index - 1][start:end].strip() for start, end in spans]
        rows = []
        for row in lines[index + 1 :]:
            if not row.strip():
                break
            rows.append(
                {
                    header: row[start:end].strip()
                    for header, (start, end) in zip(headers, spans, strict=True)
                }
            )
        tables.append(rows)
    return tables


def parse_table(text: str) -> list[dict[str, str]]:
    """Return the only table in ``text``."""
    tables = parse_tables(text)
    assert len(tables) == 1, text
    return tables[0]


# ---------------------------------------------------------------------------
# powerbus profiles
# ---------------------------------------------------------------------------


def test_profiles_lists_every_shipped_profile(capsys: pytest.CaptureFixture[str]) -> None:
    """`powerbus profiles` shows each shipped variant with its maker, size and file."""
    assert main(["profiles"]) == 0
    rows = {row["key"]: row for row in parse_table(capsys.readouterr().out)}
    assert set(rows) == set(builtin_profiles())
    pro380 = rows["pro380"]
    assert pro380["manufacturer"] == "inepro Metering"
    assert pro380["file"] == "pro380.yaml"
    assert "PRO380-CT-Mod" in pro380["models"]
    assert int(pro380["points"]) == len(get_profile("pro380").points)
    assert int(pro380["commands"]) == len(get_profile("pro380").commands)


def test_profiles_validate_reports_each_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid file is reported with its variant and point counts."""
    good = tmp_path / "testmeter.yaml"
    good.write_text(VALID_PROFILE, encoding="utf-8")
    assert main(["profiles", "validate", str(good), str(SHIPPED_PROFILE)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"ok {good} (1 variant, 2 points)"
    assert out[1].startswith(f"ok {SHIPPED_PROFILE} (2 variants, ")


@pytest.mark.parametrize(
    ("broken_line", "field_name", "complaint"),
    [
        ("data_type: f33", "data_type", "value must be one of ['bcd', 'bool', 'f32'"),
        ("data_type: u32, count: 1", "count", "occupies 2 register"),
    ],
)
def test_profiles_validate_names_file_point_and_field_of_a_broken_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    broken_line: str,
    field_name: str,
    complaint: str,
) -> None:
    """A broken file fails validation (exit 2, an invalid profile) saying where and what."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        VALID_PROFILE.replace("data_type: f32, unit: V", broken_line), encoding="utf-8"
    )
    good = tmp_path / "testmeter.yaml"
    good.write_text(VALID_PROFILE, encoding="utf-8")
    assert main(["profiles", "validate", str(broken), str(good)]) == 2
    captured = capsys.readouterr()
    assert "broken.yaml" in captured.err
    assert "point 'voltage'" in captured.err
    assert f"field '{field_name}'" in captured.err
    assert complaint in captured.err
    assert "Traceback" not in captured.err
    assert captured.out.strip() == f"ok {good} (1 variant, 2 points)"


def test_profiles_show_lists_points_with_pdu_addresses_and_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`profiles show` gives each point's table, address in hex and decimal, and each command."""
    assert main(["profiles", "show", "pro380"]) == 0
    points, commands = parse_tables(capsys.readouterr().out)
    voltage = next(row for row in points if row["point"] == "voltage_l1")
    assert voltage == {
        "point": "voltage_l1",
        "table": "holding_register",
        "address": "0x5002",
        "decimal": "20482",
        "type": "f32",
        "unit": "V",
        "group": "fast",
        "writable": "",
    }
    assert next(row for row in points if row["point"] == "modbus_id")["writable"] == "dangerous"
    by_key = {row["command"]: row for row in commands}
    assert by_key["reset_day_counter"]["dangerous"] == "yes"
    assert by_key["set_lcd_cycle_time"]["dangerous"] == ""
    assert by_key["set_lcd_cycle_time"]["params"] == "seconds=int 1..30 s"


def test_profiles_show_of_an_unknown_key_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown profile key is refused with the known keys listed."""
    assert main(["profiles", "show", "no_such_meter"]) == 2
    err = capsys.readouterr().err
    assert "no_such_meter" in err
    assert "pro380" in err


def test_profiles_validate_checks_every_file_and_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not UTF-8 no longer stops the run: each file is checked, each problem shown."""
    latin1 = tmp_path / "latin1.yaml"
    latin1_text = VALID_PROFILE.replace("Voltage", "Spannung \xb0")
    latin1.write_bytes(latin1_text.encode("latin-1"))
    degree_at = latin1_text.index("\xb0")
    several = tmp_path / "several.yaml"
    several.write_text(
        VALID_PROFILE.replace("address: 2,", "address: 1,")
        .replace("manufacturer: Test Metering", "manufacturer: Test Metering\nmanufacturer: Other")
        .replace(
            "variants:",
            "    - {key: power, name: Power, address: 4, table: holding_register, scale: .nan}\n"
            "variants:",
        ),
        encoding="utf-8",
    )
    good = tmp_path / "testmeter.yaml"
    good.write_text(VALID_PROFILE, encoding="utf-8")
    assert main(["profiles", "validate", str(latin1), str(several), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out.strip() == f"ok {good} (1 variant, 2 points)"
    assert captured.err.splitlines() == [
        f"invalid {latin1}: is not UTF-8 text (byte 0xB0 at offset {degree_at})",
        (
            f"invalid {several}, line 4, field 'manufacturer': 'manufacturer' is given twice "
            "(first on line 3)"
        ),
        f"invalid {several}, point 'power', field 'scale': must be a finite number, not nan",
        (
            f"invalid {several}, point 'frequency', field 'address': reads a register (or bit) "
            "of point 'voltage' too; if both show the same value, declare one a view of the "
            "other (view_of)"
        ),
    ]


def test_profiles_show_takes_a_profile_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--profile ./my.yaml` and friends: a path names a file, with :VARIANT for one of several."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "testmeter.yaml").write_text(VALID_PROFILE, encoding="utf-8")
    assert main(["profiles", "show", "./testmeter.yaml"]) == 0
    points = parse_table(capsys.readouterr().out.split("\n", 2)[2])
    assert [row["point"] for row in points] == ["voltage", "frequency"]
    assert main(["profiles", "show", f"{SHIPPED_PROFILE}:pro380_legacy"]) == 0
    legacy = get_profile("pro380_legacy")
    assert capsys.readouterr().out.startswith(f"{legacy.name} (pro380_legacy) by ")


@pytest.mark.parametrize(
    ("argument", "complaint"),
    [
        (str(SHIPPED_PROFILE), "holds several variants (pro380, pro380_legacy); name one as"),
        (f"{SHIPPED_PROFILE}:pro390", "has no variant 'pro390' (it holds: pro380, pro380_legacy)"),
        ("./missing.yaml", "./missing.yaml: cannot read the file"),
        ("PRO380", "no profile 'PRO380' (known: "),
    ],
    ids=["several variants", "unknown variant", "missing file", "neither key nor file"],
)
def test_a_profile_file_that_names_no_one_profile_exits_2(
    argument: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal says which variants the file holds, or why it cannot be read."""
    assert main(["profiles", "show", argument]) == 2
    assert complaint in capsys.readouterr().err


# ---------------------------------------------------------------------------
# powerbus read
# ---------------------------------------------------------------------------


async def test_read_prints_the_device_values_with_precision_and_unit(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table holds every point enabled by default, as the device holds it, rounded as the profile says."""
    assert await run_cli("read", meter.link, "--unit", "1", "--profile", "pro380") == 0
    rows = {row["point"]: row for row in parse_table(capsys.readouterr().out)}
    shown = [point for point in meter.profile.points if point.enabled_by_default]
    assert list(rows) == [point.key for point in shown]
    for point in shown:
        value = meter.device.get_value(point.key)
        expected = f"{value:.{point.precision}f}" if point.precision is not None else str(value)
        assert rows[point.key] == {
            "point": point.key,
            "value": expected,
            "unit": point.unit or "",
            "state": "valid",
        }
    assert rows["serial_number"]["value"] == "22091039"
    assert re.fullmatch(r"2\d\d\.\d", rows["voltage_l1"]["value"])


async def test_read_json_recognises_the_meter_and_reports_exact_values(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the profile detected, JSON holds the full values, units, states and bus statistics."""
    assert await run_cli("read", meter.link, "--unit", "1", "--json", "--all") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["profile"] == "pro380"
    assert document["unit"] == METER_UNIT
    assert set(document["readings"]) == {point.key for point in meter.profile.points}
    for key, reading in document["readings"].items():
        assert reading == {
            "value": meter.device.get_value(key),
            "unit": meter.profile.point(key).unit,
            "state": "valid",
            "error": None,
        }
    stats = document["stats"]
    assert stats["requests"] == len(meter.recorder.requests)
    assert stats["timeouts"] == 0


async def test_read_with_a_user_profile_file(
    meter: Meter, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A user's copy of a shipped profile, under a key of its own, reads the device."""
    copy = tmp_path / "my_pro380.yaml"
    copy.write_text(
        SHIPPED_PROFILE.read_text(encoding="utf-8").replace(
            "  - key: pro380\n", "  - key: my_pro380\n", 1
        ),
        encoding="utf-8",
    )
    profile = f"{copy}:my_pro380"
    argv = ("read", meter.link, "--unit", "1", "--profile", profile, "--point", "voltage_l1")
    assert await run_cli(*argv, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["profile"] == "my_pro380"
    assert document["readings"]["voltage_l1"]["value"] == pytest.approx(
        meter.device.get_value("voltage_l1")
    )
    write = ("write", meter.link, "--unit", "1", "--profile", profile)
    assert await run_cli(*write, "--command", "set_lcd_cycle_time", "--param", "seconds=20") == 0
    assert meter.device.get_value("lcd_cycle_time") == 20


async def test_read_narrows_to_groups_and_points(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """--group keeps the points of those groups; --point names points, disabled ones included."""
    assert (
        await run_cli(
            "read", meter.link, "--unit", "1", "--profile", "pro380", "--group", "once,slow"
        )
        == 0
    )
    grouped = {row["point"] for row in parse_table(capsys.readouterr().out)}
    assert grouped == {
        point.key
        for point in meter.profile.points
        if point.group.value in ("once", "slow") and point.enabled_by_default
    }
    assert "voltage_l1" not in grouped
    argv = (
        "read",
        meter.link,
        "--unit",
        "1",
        "--profile",
        "pro380",
        "--point",
        "reactive_power_l1,frequency",
    )
    assert await run_cli(*argv) == 0
    assert [row["point"] for row in parse_table(capsys.readouterr().out)] == [
        "frequency",
        "reactive_power_l1",
    ]


async def test_read_of_an_unknown_point_exits_2(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """A point the profile lacks is refused, naming it."""
    assert (
        await run_cli("read", meter.link, "--unit", "1", "--profile", "pro380", "--point", "volts")
        == 2
    )
    assert "'volts'" in capsys.readouterr().err


async def test_read_watch_prints_successive_tables(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a terminal, --watch prints one table per refresh, separated by a blank line."""
    argv = ("read", meter.link, "--unit", "1", "--profile", "pro380", "--point", "voltage_l1")
    started = time.monotonic()
    assert await run_cli(*argv, "--watch", "0.3", "--count", "3") == 0
    assert time.monotonic() - started >= 0.6
    out = capsys.readouterr().out
    tables = parse_tables(out)
    assert len(tables) == 3
    assert all(table[0]["point"] == "voltage_l1" for table in tables)
    assert "\x1b[" not in out
    assert "\n\nPRO380-Mod (pro380)" in out

    assert await run_cli(*argv, "--watch", "0.1", "--count", "2", "--json") == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(documents) == 2
    assert documents[1]["stats"]["requests"] > documents[0]["stats"]["requests"]


async def test_read_raw_registers(meter: Meter, capsys: pytest.CaptureFixture[str]) -> None:
    """--raw prints each register's address (hex and decimal) and value (hex and decimal)."""
    assert await run_cli("read", meter.link, "--unit", "1", "--raw", "hr:0x4000:3") == 0
    rows = parse_table(capsys.readouterr().out)
    registers = meter.device.registers(Table.HOLDING_REGISTER, 0x4000, 3)
    assert [row["address"] for row in rows] == ["0x4000", "0x4001", "0x4002"]
    assert [row["decimal"] for row in rows] == ["16384", "16385", "16386"]
    assert [int(row["value"]) for row in rows] == registers
    assert [row["hex"] for row in rows] == [f"0x{register:04X}" for register in registers]
    # The serial number 22091039 is stored as hex digits in the first two registers.
    assert [row["hex"] for row in rows[:2]] == ["0x2209", "0x1039"]

    assert (
        await run_cli(
            "read", meter.link, "--unit", "1", "--raw", "holding_register:20482:2", "--json"
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["table"] == "holding_register"
    assert [r["address"] for r in document["registers"]] == [20482, 20483]
    assert [r["value"] for r in document["registers"]] == meter.device.registers(
        Table.HOLDING_REGISTER, 20482, 2
    )


async def test_read_raw_of_a_refused_address_exits_1(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """A register the device refuses is reported with the exception, naming link and unit."""
    assert await run_cli("read", meter.link, "--unit", "1", "--raw", "ir:0:2") == 1
    err = capsys.readouterr().err
    assert f"unit 1 on {meter.link}" in err
    assert "illegal data address" in err


@pytest.mark.parametrize(
    "raw", ["hr:0x4000", "xx:0:1", "hr:0:126", "hr:65535:2", "hr:abc:1", "co:0:0"]
)
async def test_read_raw_with_a_bad_span_exits_2(
    meter: Meter, raw: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A span that is not TABLE:ADDRESS:COUNT within the protocol's limits is refused unsent."""
    assert await run_cli("read", meter.link, "--unit", "1", "--raw", raw) == 2
    assert "--raw" in capsys.readouterr().err
    assert meter.recorder.requests == []


async def test_read_raw_reads_once_only(meter: Meter, capsys: pytest.CaptureFixture[str]) -> None:
    """--raw with --watch is refused before anything is sent."""
    argv = ("read", meter.link, "--unit", "1", "--raw", "hr:0x4000:2", "--watch", "1")
    assert await run_cli(*argv) == 2
    assert "--raw" in capsys.readouterr().err
    assert meter.recorder.requests == []


# ---------------------------------------------------------------------------
# powerbus scan
# ---------------------------------------------------------------------------


async def test_scan_finds_the_meter_at_unit_1_only(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Units 2 and 3 stay silent; unit 1 is identified with serial number and firmware."""
    assert await run_cli("scan", meter.link, "--units", "1-3", "--timeout", "0.2") == 0
    captured = capsys.readouterr()
    assert parse_table(captured.out) == [
        {
            "unit": "1",
            "family": "pro380",
            "profile": "pro380",
            "serial": str(meter.device.get_value("serial_number")),
            "firmware": str(meter.device.get_value("software_version")),
        }
    ]
    progress = captured.err.splitlines()
    assert [line.split(", about")[0] for line in progress[:-1]] == [
        "probed 1/3, 1 answered",
        "probed 2/3, 1 answered",
        "probed 3/3, 1 answered",
        "recognised 1/1 that answered",
    ]
    assert re.fullmatch(
        r"probed 3 unit ids in \d+\.\d s: 1 recognised, 0 not recognised", progress[-1]
    )


async def test_scan_json_and_nothing_found(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON lists the devices; a scan that finds none exits 1."""
    assert await run_cli("scan", meter.link, "--units", "1", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [(d["unit"], d["profile"], d["serial"]) for d in document["devices"]] == [
        (1, "pro380", "22091039")
    ]
    assert await run_cli("scan", meter.link, "--units", "5,9", "--timeout", "0.2") == 1
    captured = capsys.readouterr()
    assert "no device answered" in captured.err
    assert "probed 2/2, 0 answered" in captured.err


# ---------------------------------------------------------------------------
# powerbus write
# ---------------------------------------------------------------------------


async def test_write_of_a_safe_command_changes_the_device(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """set_lcd_cycle_time writes the new cycle time and reports what the device read back."""
    assert meter.device.get_value("lcd_cycle_time") == 10
    argv = (
        "write",
        meter.link,
        "--unit",
        "1",
        "--profile",
        "pro380",
        "--command",
        "set_lcd_cycle_time",
    )
    assert await run_cli(*argv, "--param", "seconds=25") == 0
    assert meter.device.get_value("lcd_cycle_time") == 25
    assert "lcd_cycle_time = 25 s" in capsys.readouterr().out


async def test_dangerous_command_needs_confirm_and_sends_nothing_without(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --confirm a dangerous command exits 2 and the device hears nothing; with it, it runs."""
    day_counter = meter.device.get_value("day_counter_energy")
    assert day_counter
    argv = (
        "write",
        meter.link,
        "--unit",
        "1",
        "--profile",
        "pro380",
        "--command",
        "reset_day_counter",
    )
    assert await run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert "dangerous" in err
    assert "--confirm" in err
    assert meter.recorder.requests == []
    assert meter.device.get_value("day_counter_energy") == day_counter

    assert await run_cli(*argv, "--confirm") == 0
    assert meter.device.get_value("day_counter_energy") == 0


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        (["seconds=31"], "above the maximum 30"),
        (["seconds=ten"], "must be a number"),
        ([], "'seconds' is required"),
        (["seconds=5", "minutes=1"], "unknown parameter 'minutes'"),
        (["seconds"], "KEY=VALUE"),
    ],
)
async def test_write_with_bad_parameters_exits_2_unsent(
    meter: Meter, capsys: pytest.CaptureFixture[str], params: list[str], complaint: str
) -> None:
    """Parameters are checked before anything goes to the device."""
    argv = [
        "write",
        meter.link,
        "--unit",
        "1",
        "--profile",
        "pro380",
        "--command",
        "set_lcd_cycle_time",
    ]
    for param in params:
        argv += ["--param", param]
    assert await run_cli(*argv) == 2
    assert complaint in capsys.readouterr().err
    assert meter.recorder.requests == []


async def test_write_of_an_unknown_command_lists_the_known_ones(
    meter: Meter, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command the profile lacks is refused, with the ones it has."""
    argv = ("write", meter.link, "--unit", "1", "--profile", "pro380", "--command", "self_destruct")
    assert await run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert "self_destruct" in err
    assert "set_tariff" in err


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["read", "{link}", "--unit", "1"],
        ["read", "{link}", "--unit", "1", "--raw", "hr:0:1"],
        [
            "write",
            "{link}",
            "--unit",
            "1",
            "--profile",
            "pro380",
            "--command",
            "set_tariff",
            "--param",
            "tariff=t2",
        ],
        ["scan", "{link}", "--units", "1-2"],
    ],
    ids=["read", "raw", "write", "scan"],
)
def test_unreachable_link_exits_1_naming_it(
    free_tcp_port: int, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Nothing listens on the port: a one-line message names the link (and unit), no traceback."""
    link = f"tcp://127.0.0.1:{free_tcp_port}"
    assert main([part.format(link=link) for part in argv]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach {'unit 1 on ' if '--unit' in argv else ''}{link}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("profile", ["pro380", "auto"])
async def test_silent_unit_exits_1(
    meter: Meter, capsys: pytest.CaptureFixture[str], profile: str
) -> None:
    """A unit id nobody answers on is reported as not answering, within the timeout asked for."""
    argv = ("read", meter.link, "--unit", "7", "--profile", profile, "--timeout", "0.2")
    started = time.monotonic()
    assert await run_cli(*argv) == 1
    assert time.monotonic() - started < 3
    assert f"unit 7 on {meter.link} does not answer" in capsys.readouterr().err


async def test_unknown_device_is_not_guessed(capsys: pytest.CaptureFixture[str]) -> None:
    """A device that answers but matches no shipped profile is reported, not misread."""
    image = RegisterImage({Table.HOLDING_REGISTER: {0: 1, 1: 2}})
    async with Simulator({METER_UNIT: image}) as simulator:
        link = f"tcp://127.0.0.1:{await simulator.start_tcp('127.0.0.1', 0)}"
        assert await run_cli("read", link, "--unit", "1") == 1
        assert await run_cli("read", link, "--unit", "1", "--raw", "hr:0:2", "--json") == 0
    captured = capsys.readouterr()
    assert f"no shipped profile recognises unit 1 on {link}" in captured.err
    assert [r["value"] for r in json.loads(captured.out)["registers"]] == [1, 2]


@pytest.mark.parametrize(
    "link", ["foo://127.0.0.1:502", "tcp://", "rtu://", "tcp://127.0.0.1:502?baudrate=9600"]
)
def test_bad_link_url_exits_2(link: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A link that cannot be parsed is refused with a message about the link."""
    assert main(["read", link, "--unit", "1"]) == 2
    err = capsys.readouterr().err
    assert "link" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["read", "tcp://127.0.0.1:502"],
        ["read", "tcp://127.0.0.1:502", "--unit", "256"],
        ["read", "tcp://127.0.0.1:502", "--unit", "1", "--group", "sometimes"],
        ["read", "tcp://127.0.0.1:502", "--unit", "1", "--watch", "0"],
        ["read", "tcp://127.0.0.1:502", "--unit", "1", "--point", "frequency", "--group", "fast"],
        ["scan", "tcp://127.0.0.1:502", "--units", "5-1"],
        ["simulate", "pro380", "--fault", "explode"],
        ["simulate", "pro380", "--tcp", "localhost"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Arguments argparse cannot accept end with its usage message and exit code 2."""
    assert main(argv) == 2
    assert "usage: powerbus" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The tool as a separate process
# ---------------------------------------------------------------------------


def test_console_script_lists_profiles() -> None:
    """The installed `powerbus` script runs the same tool."""
    script = Path(sys.executable).with_name("powerbus")
    if not script.exists():
        pytest.skip("the project is not installed in this environment (pip install -e .)")
    result = subprocess.run(
        [str(script), "profiles"],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {row["key"] for row in parse_table(result.stdout)} == set(builtin_profiles())


@pytest.fixture
def run_process() -> Iterator[list[subprocess.Popen[str]]]:
    """Collect the processes a test starts; stop any still running at the end."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(PROCESS_TIMEOUT)


def start(processes: list[subprocess.Popen[str]], *argv: str) -> subprocess.Popen[str]:
    """Start the tool as a process with ``argv``."""
    process = subprocess.Popen(
        [*MODULE_COMMAND, *argv],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    return process


def wait_for_line(process: subprocess.Popen[str], pattern: re.Pattern[str]) -> re.Match[str]:
    """Read the process's output until a line matches ``pattern``."""
    assert process.stdout is not None
    deadline = time.monotonic() + PROCESS_TIMEOUT
    seen: list[str] = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = pattern.search(line)
            if match:
                return match
    process.kill()
    _, err = process.communicate(timeout=PROCESS_TIMEOUT)
    pytest.fail(f"no line matching {pattern.pattern!r} in {seen!r}; stderr: {err}")


def stop(process: subprocess.Popen[str], signal_number: int) -> tuple[int, str]:
    """Send ``signal_number`` and return the exit code and everything on stderr."""
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=PROCESS_TIMEOUT)
    return process.returncode, err


def test_simulate_serves_until_sigterm(
    run_process: list[subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate` says where it listens, answers reads there, and stops cleanly on SIGTERM."""
    simulator = start(run_process, "simulate", "pro380", "--tcp", "127.0.0.1:0")
    link = wait_for_line(simulator, LISTENING).group(1)
    assert main(["read", link, "--unit", "1", "--point", "serial_number", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["profile"] == "pro380"
    assert document["readings"]["serial_number"]["value"] == "22091039"
    code, err = stop(simulator, signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in err


def test_simulate_serves_a_profile_file(
    run_process: list[subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate PATH:VARIANT` serves the variant of a profile file."""
    simulator = start(run_process, "simulate", f"{SHIPPED_PROFILE}:pro380", "--tcp", "127.0.0.1:0")
    link = wait_for_line(simulator, LISTENING).group(1)
    argv = ["read", link, "--unit", "1", "--profile", "pro380", "--point", "serial_number"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["readings"]["serial_number"]["value"] == "22091039"
    assert stop(simulator, signal.SIGTERM)[0] == 0


def test_simulate_injects_faults(
    run_process: list[subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """--fault exception=4 makes every answer a 'server device failure'."""
    simulator = start(
        run_process,
        "simulate",
        "pro380",
        "--unit",
        "3",
        "--tcp",
        "127.0.0.1:0",
        "--fault",
        "exception=4",
    )
    link = wait_for_line(simulator, LISTENING).group(1)
    assert main(["read", link, "--unit", "3", "--raw", "hr:0x4000:2"]) == 1
    assert f"unit 3 on {link} refused the request: device exception 0x04" in capsys.readouterr().err
    assert stop(simulator, signal.SIGINT)[0] == 0


def test_rtu_link_reads_the_meter_over_a_serial_line(
    run_process: list[subprocess.Popen[str]],
    serial_pair: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An RTU simulator on one end of a virtual serial line is read from the other end."""
    # A pty carries no parity, so both ends run 8N1 instead of the profile's 8E1.
    server_end, client_end = serial_pair
    simulator = start(run_process, "simulate", "pro380", "--rtu", server_end, "--parity", "N")
    wait_for_line(simulator, re.compile(rf"on rtu://{re.escape(server_end)} 9600 8N1"))
    link = f"rtu://{client_end}?parity=N"
    assert (
        main(
            [
                "read",
                link,
                "--unit",
                "1",
                "--profile",
                "pro380",
                "--point",
                "serial_number,voltage_l1",
            ]
        )
        == 0
    )
    rows = {row["point"]: row for row in parse_table(capsys.readouterr().out)}
    assert rows["serial_number"]["value"] == "22091039"
    assert rows["voltage_l1"]["state"] == "valid"
    assert stop(simulator, signal.SIGTERM)[0] == 0
