"""The generated device list must say what the shipped profiles say."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "scripts" / "gen_devices_doc.py"
DEVICES_PAGE = REPO_ROOT / "docs" / "devices.md"


def run_check(page: Path) -> subprocess.CompletedProcess[str]:
    """Run the generator's check of ``page`` and capture what it says."""
    return subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--output", str(page)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_devices_page_matches_the_profiles() -> None:
    """docs/devices.md is exactly what the profiles and notes generate; regenerate it if not."""
    result = run_check(DEVICES_PAGE)

    assert result.returncode == 0, result.stderr + result.stdout


def test_check_fails_on_a_page_that_drifted(tmp_path: Path) -> None:
    """A page that differs from the profiles by one line is reported as out of date."""
    drifted = tmp_path / "devices.md"
    drifted.write_text(
        DEVICES_PAGE.read_text(encoding="utf-8").replace("| C2 |", "| C1 |", 1), encoding="utf-8"
    )

    result = run_check(drifted)

    assert result.returncode == 1
    assert "out of date" in result.stderr
