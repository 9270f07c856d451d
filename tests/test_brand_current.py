"""The brand images (custom_components/powerbus/brand/) are what scripts/gen_brand.py draws."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = pytest.mark.hardware_free

REPO_ROOT = Path(__file__).parents[1]


def test_brand_images_are_current() -> None:
    """Redrawing the images changes nothing."""
    result = subprocess.run(
        [sys.executable, "scripts/gen_brand.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
