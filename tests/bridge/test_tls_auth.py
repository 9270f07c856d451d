"""TLS and password authentication against a mosquitto configured for them.

A throwaway CA and a server certificate for 127.0.0.1 are made with openssl for
each test; the password file with mosquitto_passwd.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import shutil
import subprocess

import pytest

from mqtt_bridge.broker import Mosquitto

from .conftest import Devices, Watcher, config, running, settings_of, wait_until

USER = "bridge"
PASSWORD = "correct horse battery staple"


def _openssl(*args: str, cwd: Path) -> None:
    """Run openssl quietly; fail the test with its output if it fails."""
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed:\n{result.stderr}")


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """Make a CA and a server certificate for 127.0.0.1 signed by it; return the folder."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificates")
    folder = tmp_path / "tls"
    folder.mkdir()
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=Powerbus test CA",
        # Python 3.13 verifies strictly: a CA certificate must say what its key may do.
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=folder,
    )
    (folder / "san.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n",
        encoding="utf-8",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
        cwd=folder,
    )
    return folder


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """Write a mosquitto password file with one user."""
    path = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), USER, PASSWORD], check=True)
    return path


def _secured(certificates: Path, password_file: Path) -> list[str]:
    """Mosquitto configuration lines: TLS on the listener, and passwords required."""
    return [
        "allow_anonymous false",
        f"password_file {password_file}",
        f"cafile {certificates / 'ca.crt'}",
        f"certfile {certificates / 'server.crt'}",
        f"keyfile {certificates / 'server.key'}",
    ]


async def test_tls_and_a_password_from_the_environment(
    certificates: Path,
    password_file: Path,
    own_mosquitto: Callable[..., Mosquitto],
    devices: Devices,
    watch: Callable[..., Watcher],
) -> None:
    """The bridge checks the broker's certificate against the CA and logs in: state arrives."""
    broker = own_mosquitto(*_secured(certificates, password_file))
    data = config(broker, devices.url)
    data["mqtt"].update(
        username=USER,
        password_env="POWERBUS_TEST_PASSWORD",
        tls={"ca": str(certificates / "ca.crt")},
    )
    settings = settings_of(data, {"POWERBUS_TEST_PASSWORD": PASSWORD})
    base = f"powerbus/{settings.instance}"
    watcher = watch(
        f"{base}/#", broker=broker, ca=certificates / "ca.crt", credentials=(USER, PASSWORD)
    )
    async with running(settings):
        await watcher.wait(lambda: watcher.json(f"{base}/main_meter/state"), "state over TLS")
        assert watcher.text(f"{base}/bridge/state") == "online"


async def test_a_wrong_password_is_refused_and_reported_without_the_password(
    certificates: Path,
    password_file: Path,
    own_mosquitto: Callable[..., Mosquitto],
    devices: Devices,
    watch: Callable[..., Watcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker refuses: one clear error, no connection, the password nowhere in the log."""
    broker = own_mosquitto(*_secured(certificates, password_file))
    data = config(broker, devices.url)
    data["mqtt"].update(
        username=USER, password="not-the-password", tls={"ca": str(certificates / "ca.crt")}
    )
    async with running(settings_of(data)) as bridge:
        watcher = watch(broker=broker, ca=certificates / "ca.crt", credentials=(USER, PASSWORD))
        await watcher.wait(
            lambda: any("refused the connection" in r.getMessage() for r in caplog.records),
            "the refusal in the log",
        )
        assert bridge.client is not None and not bridge.client.connected
    assert "not-the-password" not in caplog.text


async def test_a_broker_certificate_from_an_unknown_ca_is_not_trusted(
    certificates: Path,
    password_file: Path,
    own_mosquitto: Callable[..., Mosquitto],
    devices: Devices,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the CA the broker's certificate does not verify: the bridge does not connect."""
    broker = own_mosquitto(*_secured(certificates, password_file))
    data = config(broker, devices.url)
    data["mqtt"].update(username=USER, password=PASSWORD, tls={})
    async with running(settings_of(data)) as bridge:
        await wait_until(
            lambda: any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() for r in caplog.records),
            "the certificate failure in the log",
        )
        assert bridge.client is not None and not bridge.client.connected
