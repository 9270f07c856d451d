"""Register numbers as the device's own document gives them, wherever ``powerbus`` shows or takes one.

PowerLogic documents number registers from 1 (register 8021 is PDU address 8020), Liebert's
OC-485 guide uses Modicon references (30021 is input register 21, PDU address 20), the PRO380's
map gives PDU addresses. ``profiles show`` lists both, ``read --raw`` with a profile takes the
document's number, and a command's read-back names the register the document names.
"""

from __future__ import annotations

import asyncio
import json
import re

from hypothesis import given, strategies as st
import pytest

from powerbus.cli import EXIT_OK, EXIT_REFUSED, RawSpan, main
from powerbus.cli.numbering import raw_addresses, register_number
from powerbus.models import Table
from powerbus.profile import get_profile

from .conftest import Serve
from .test_cli import parse_table, parse_tables

# Modicon references: the first digit names the table, the rest counts registers from 1.
MODICON_DIGIT = {
    Table.COIL: 0,
    Table.DISCRETE_INPUT: 1,
    Table.INPUT_REGISTER: 3,
    Table.HOLDING_REGISTER: 4,
}


async def run_cli(*argv: str) -> int:
    """Run the command line in a worker thread, so the simulator keeps serving meanwhile."""
    return await asyncio.to_thread(main, list(argv))


def _points_table(out: str) -> list[dict[str, str]]:
    """Return the points table of `profiles show`."""
    return parse_tables(out)[0]


def test_profiles_show_numbers_modicon_registers_as_the_guide_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Liebert point's register is its Modicon reference; the PDU address stands beside it."""
    assert main(["profiles", "show", "liebert_series600"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "registers: Modicon references (40001 is holding register 1" in out
    rows = {row["point"]: row for row in _points_table(out)}
    assert rows["on_battery"]["register"] == "10128"  # the guide's row, liebert.yaml
    assert rows["on_battery"]["decimal"] == "127"
    for point in get_profile("liebert_series600").points:
        row = rows[point.key]
        assert int(row["register"]) == MODICON_DIGIT[point.table] * 10000 + point.address + 1
        assert int(row["address"], 16) == point.address


def test_profiles_show_numbers_powerlogic_registers_from_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A PM800 point's register is the manual's number, one above its PDU address."""
    assert main(["profiles", "show", "pm800"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "registers: register numbers from 1" in out
    rows = {row["point"]: row for row in _points_table(out)}
    assert rows["serial_number"]["register"] == "3017"  # S-PM8MAN: serial number at 3017-3018
    assert rows["serial_number"]["decimal"] == "3016"


def test_profiles_show_of_a_pdu_profile_has_no_second_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PRO380's map gives PDU addresses: no register column repeats them."""
    assert main(["profiles", "show", "pro380"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "registers: zero-based PDU addresses" in out
    assert "register" not in _points_table(out)[0]


@pytest.mark.parametrize(
    ("profile", "command", "params"),
    [
        ("liebert_series600", "output_off", "delay=int 0..65530 step 10 s, default 0"),
        (
            "apc_smart_ups",
            "output_off",
            "timing=immediately|after_off_delay, default after_off_delay",
        ),
        (
            "pm800",
            "set_en50160_limit",
            "register=int 3900..3950; value=int 0..32767 or disabled (-32768)",
        ),
        ("pro380", "set_tariff", "tariff=t1|t2"),
    ],
)
def test_profiles_show_gives_parameter_ranges_steps_choices_and_defaults(
    profile: str, command: str, params: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each parameter says what it takes: range, step, unit, choices, named values and default."""
    assert main(["profiles", "show", profile]) == EXIT_OK
    commands = {row["command"]: row for row in parse_tables(capsys.readouterr().out)[1]}
    assert commands[command]["params"] == params


@given(
    key=st.sampled_from(["pro380", "pm800", "liebert_gxt2"]),
    table=st.sampled_from(list(Table)),
    address=st.integers(min_value=0, max_value=0xFFFF),
)
def test_every_register_number_shown_is_one_raw_reads_back(
    key: str, table: Table, address: int
) -> None:
    """The number shown for a register, given to --raw with the profile, reads that register."""
    profile = get_profile(key)
    shown = register_number(profile, table, address)
    assert raw_addresses(RawSpan(table=table, address=shown, count=1), profile) == (table, address)


async def test_raw_read_takes_the_modicon_reference_of_a_liebert_profile(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--raw ir:30021:2` reads PDU addresses 20 and 21, and shows both numbers."""
    ups = await serve("liebert_series600")
    argv = ("read", ups.link, "--unit", "1", "--profile", "liebert_series600")
    assert await run_cli(*argv, "--raw", "ir:30021:2") == EXIT_OK
    rows = parse_table(capsys.readouterr().out)
    assert [row["register"] for row in rows] == ["30021", "30022"]
    assert [row["decimal"] for row in rows] == ["20", "21"]
    expected = ups.device.registers(Table.INPUT_REGISTER, 20, 2)
    assert [int(row["value"]) for row in rows] == expected
    assert ups.requests == [("read", Table.INPUT_REGISTER, 20)]

    assert await run_cli(*argv, "--raw", "ir:30021:2", "--json") == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document["numbering"] == "modicon"
    assert [(r["register"], r["address"]) for r in document["registers"]] == [
        (30021, 20),
        (30022, 21),
    ]


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("hr:30021:1", "reference 30021 is an input_register, not a holding_register"),
        ("ir:21:1", "reference 21 is a coil, not an input_register"),
        ("ir:50021:1", "50021 is not a Modicon reference"),
    ],
)
async def test_raw_read_refuses_a_number_the_modicon_numbering_does_not_have(
    serve: Serve, raw: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A number that is no reference of the table asked for is refused, unsent, saying why."""
    ups = await serve("liebert_series600")
    argv = ("read", ups.link, "--unit", "1", "--profile", "liebert_series600", "--raw", raw)
    assert await run_cli(*argv) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert complaint in err
    assert "liebert_series600 numbers registers as its document does: Modicon references" in err
    assert ups.requests == []


async def test_raw_read_takes_a_powerlogic_register_number(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--raw hr:3017:2` with the PM800 profile reads the serial number at PDU 3016."""
    meter = await serve("pm800")
    argv = ("read", meter.link, "--unit", "1", "--profile", "pm800", "--raw", "hr:3017:2")
    assert await run_cli(*argv) == EXIT_OK
    rows = parse_table(capsys.readouterr().out)
    assert [(row["register"], row["address"]) for row in rows] == [
        ("3017", "0x0BC8"),
        ("3018", "0x0BC9"),
    ]
    assert meter.requests == [("read", Table.HOLDING_REGISTER, 3016)]


async def test_a_command_reads_back_the_register_its_manual_names(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """PowerLogic's energy preset reports from register 8021 (PDU 8020): the output says 8021."""
    meter = await serve("pm800")
    argv = ("write", meter.link, "--unit", "1", "--profile", "pm800")
    values = ",".join(["1"] + ["0"] * 27)
    assert (
        await run_cli(
            *argv, "--command", "preset_energies", "--param", f"values={values}", "--confirm"
        )
        == EXIT_OK
    )
    out = capsys.readouterr().out
    assert re.search(r"read back register 8021 = 0\b", out), out
    assert ("read", Table.HOLDING_REGISTER, 8020) in meter.requests


async def test_an_unknown_point_lists_the_profile_s_points(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--point volts` is refused unsent, with the nearest keys and every key of the profile."""
    meter = await serve("pro380")
    argv = ("read", meter.link, "--unit", "1", "--profile", "pro380", "--point", "volts")
    assert await run_cli(*argv) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "pro380 has no point 'volts' (did you mean 'voltage'?" in err
    listed = err.split("its points: ", 1)[1].rstrip().rstrip(")").split(", ")
    assert listed == [point.key for point in get_profile("pro380").points]
    assert meter.requests == []
