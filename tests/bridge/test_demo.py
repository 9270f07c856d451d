"""The one-command demo: everything starts, the on-battery state arrives, nothing is left behind."""

from __future__ import annotations

import os
from pathlib import Path
import re
import socket
import subprocess
import sys

import pytest

from mqtt_bridge.broker import embedded_broker_available

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run_demo(env: dict[str, str]) -> str:
    """Run the demo for a few seconds with the mains cut after two; return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "mqtt_bridge.demo", "--seconds", "8", "--cut-mains-after", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _assert_demo_worked(output: str) -> None:
    """Three devices online, the on-battery state arrived, the broker is gone afterwards."""
    assert "Demo stopped" in output
    assert re.search(r"UPS\s+liebert_series600\s+online\s+status on_battery", output), output
    assert "on battery reached the broker" in output
    assert re.search(r"Main meter\s+pro380\s+online", output)
    assert re.search(r"Feeder\s+pm800\s+online", output)
    assert "discovery: 3 devices" in output
    port = int(re.search(r"on 127\.0\.0\.1:(\d+) \|", output).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_the_demo_with_mosquitto() -> None:
    """With mosquitto installed the demo runs on it, and stops it by its process id."""
    output = _run_demo(dict(os.environ))
    assert "broker: mosquitto on" in output
    _assert_demo_worked(output)


@pytest.mark.skipif(
    not embedded_broker_available(), reason="the broker extra (amqtt) is not installed"
)
def test_the_demo_without_mosquitto_uses_the_embedded_broker(tmp_path: Path) -> None:
    """Without mosquitto on PATH the demo falls back to amqtt, in its own process."""
    output = _run_demo({**os.environ, "PATH": str(tmp_path)})
    assert "broker: amqtt (embedded) on" in output
    _assert_demo_worked(output)
