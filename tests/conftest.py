"""Fixtures every test folder can use: a virtual serial line and a free TCP port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import shutil
import socket
import subprocess
import time

import pytest

_PTY_WAIT = 5.0


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two ends of a virtual serial line made by socat: (server end, client end).

    What is written to one end is read from the other, as on a null-modem cable.
    Open both ends 8N1: a pty carries no parity, Linux drops PARENB on it, and a
    later attempt to set parity (pyserial makes one after opening) fails with
    EINVAL.
    """
    if shutil.which("socat") is None:
        pytest.fail("socat is needed for the virtual serial line (apt-get install socat)")
    server_end, client_end = tmp_path / "server-end", tmp_path / "client-end"
    log_path = tmp_path / "socat.log"
    with log_path.open("w") as log:
        socat = subprocess.Popen(
            [
                "socat",
                "-d",
                "-d",
                f"pty,raw,echo=0,link={server_end}",
                f"pty,raw,echo=0,link={client_end}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + _PTY_WAIT
        while not (server_end.exists() and client_end.exists()):
            if socat.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"socat made no pty pair:\n{log_path.read_text()}")
            time.sleep(0.02)
        yield str(server_end), str(client_end)
    finally:
        socat.terminate()
        socat.wait(timeout=_PTY_WAIT)


@pytest.fixture
def free_tcp_port() -> int:
    """Find a TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
