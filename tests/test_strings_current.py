"""The integration's entity names and its English translations follow the profiles.

``scripts/gen_strings.py`` writes the ``entity`` section of ``strings.json`` from the
engine's catalogue and ``translations/en.json`` from ``strings.json``; a profile change
without a rerun would leave entities unnamed or states untranslated.
"""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = pytest.mark.hardware_free

REPO_ROOT = Path(__file__).parents[1]


def test_strings_and_english_translations_are_current() -> None:
    """Rerunning the generator changes nothing."""
    result = subprocess.run(
        [sys.executable, "scripts/gen_strings.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
