"""``powerbus`` exits as the README says: 0 success, 1 nothing could be read or done, 2 refused unsent.

The README's list of exit codes is the one ``powerbus --help`` prints; the cases below are the
ones a new user meets: a read where every point fails, a read where some do, a profile file that
does not validate.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import re

import pytest

from powerbus.cli import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, main
from powerbus.cli.output import EXIT_CODES
from powerbus.models import Table
from powerbus.simulator.faults import ExceptionAnswer

from .conftest import Serve

README = Path(__file__).resolve().parents[2] / "README.md"


async def run_cli(*argv: str) -> int:
    """Run the command line in a worker thread, so the simulator keeps serving meanwhile."""
    return await asyncio.to_thread(main, list(argv))


def _flat(text: str) -> str:
    """Text with every run of white space made one space."""
    return re.sub(r"\s+", " ", text)


def test_the_readme_lists_the_exit_codes_help_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """Each code's meaning stands in the README as `powerbus --help` gives it."""
    readme = _flat(README.read_text(encoding="utf-8"))
    for code, meaning in EXIT_CODES.items():
        assert f"`{code}`: {_flat(meaning)}" in readme, code
    assert main(["--help"]) == EXIT_OK
    shown = _flat(capsys.readouterr().out)
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {_flat(meaning).replace('`', '')}" in shown


async def test_a_read_where_every_point_fails_exits_1(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """The device refuses every read: the table still shows, then a line says why, exit 1."""
    meter = await serve("pro380")
    meter.faults.add(ExceptionAnswer(code=2, times=None))
    argv = ("read", meter.link, "--unit", "1", "--profile", "pro380")
    assert await run_cli(*argv, "--point", "voltage_l1,frequency") == EXIT_FAILURE
    captured = capsys.readouterr()
    assert "voltage_l1, frequency: device exception 0x02 (illegal data address)" in captured.out
    assert captured.err.splitlines() == [
        (
            f"powerbus: no point of unit 1 on {meter.link} could be read (2 points asked for): "
            "device exception 0x02 (illegal data address)"
        )
    ]

    assert await run_cli(*argv, "--point", "voltage_l1", "--json") == EXIT_FAILURE
    document = json.loads(capsys.readouterr().out)
    assert document["readings"]["voltage_l1"]["state"] == "unavailable"


async def test_a_read_where_some_points_fail_exits_0_and_says_which(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the energy block is refused: the voltages are shown, the energies named, exit 0."""
    meter = await serve("pro380")
    energy = meter.device.profile.point("import_active_energy")
    meter.faults.add(
        ExceptionAnswer(
            code=2,
            times=None,
            table=Table.HOLDING_REGISTER,
            addresses=range(energy.address, energy.end + 1),
        )
    )
    argv = ("read", meter.link, "--unit", "1", "--profile", "pro380")
    assert await run_cli(*argv, "--point", "voltage_l1,import_active_energy") == EXIT_OK
    out = capsys.readouterr().out
    assert re.search(r"^voltage_l1 +2\d\d\.\d +V +valid$", out, re.MULTILINE)
    assert "import_active_energy: device exception 0x02 (illegal data address)" in out


def test_profiles_validate_exits_2_on_a_bad_file_and_0_on_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is no profile makes validate exit 2; shipped files alone exit 0."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: [not, a, profile\n", encoding="utf-8")
    shipped = Path(__file__).resolve().parents[2] / "custom_components/powerbus/engine/profiles"
    good = str(shipped / "pro380.yaml")
    assert main(["profiles", "validate", good, str(bad)]) == EXIT_REFUSED
    assert f"invalid {bad}" in capsys.readouterr().err
    assert main(["profiles", "validate", good]) == EXIT_OK
