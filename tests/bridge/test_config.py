"""The bridge's configuration: the minimal file, every error with its key path, secrets, the doc."""

from __future__ import annotations

import json
import logging
from pathlib import Path
import subprocess
import sys
from typing import Any

from hypothesis import given, settings as hypothesis_settings, strategies as st
import pytest
import yaml

from mqtt_bridge.config import BridgeConfigError, load_settings, parse_settings, slug
from mqtt_bridge.config_doc import MINIMAL, main as config_doc_main, render
from powerbus import HA_2026_10, PollIntervals

REPO_ROOT = Path(__file__).resolve().parents[2]


def _valid() -> dict[str, Any]:
    """Return the issue's minimal configuration, parsed."""
    data: dict[str, Any] = yaml.safe_load(MINIMAL)
    return data


def _problems(data: Any, environ: dict[str, str] | None = None) -> list[str]:
    """Return the problems the bridge finds in ``data`` (none: it is valid)."""
    try:
        parse_settings(data, environ or {})
    except BridgeConfigError as err:
        return err.problems
    return []


def test_the_minimal_configuration_works_as_written(tmp_path: Path) -> None:
    """The smallest file: defaults for everything else, one device with the profile's unit."""
    path = tmp_path / "bridge.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    settings = load_settings(path)
    (device,) = settings.devices
    assert (device.id, device.profile.key, device.unit) == ("main_meter", "pro380", 1)
    assert device.intervals == PollIntervals()
    assert settings.mqtt.client_id == "powerbus-mqtt-main"
    assert settings.discovery.prefix == "homeassistant"
    assert not settings.discovery.per_component


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["mqtt"].update(port="x"), "mqtt.port: expected int"),
        (
            lambda d: d["mqtt"].update(passwrd="x"),
            "mqtt.passwrd: unknown key; did you mean 'password'?",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(unit=300),
            "links[0].devices[0].unit: value must be at most 255",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(profile="pro38"),
            "links[0].devices[0].profile: no profile 'pro38'; did you mean 'pro380'?",
        ),
        (
            lambda d: d["links"][0].update(url="tcpx://h:1"),
            "links[0].url: link: unknown scheme 'tcpx'",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(enable=["voltage_l9"]),
            "links[0].devices[0].enable: pro380 has no entity 'voltage_l9'",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(commands={"allow": ["tarif"]}),
            "links[0].devices[0].commands.allow: 'tarif' is neither",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(commands={"dangerous": ["set_tariff"]}),
            "links[0].devices[0].commands.dangerous: 'set_tariff' is not dangerous",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(commands={"dangerous": ["outlet_1"]}),
            (
                "links[0].devices[0].commands.dangerous: pro380 has no command or command switch "
                "'outlet_1'"
            ),
        ),
        (
            lambda d: d["links"][0]["devices"].append({"name": "Main Meter!", "profile": "pm800"}),
            "links[0].devices[1]: the id 'main_meter' is also used by links[0].devices[0]",
        ),
        (
            lambda d: d["links"][0]["devices"][0].update(id="bridge"),
            "links[0].devices[0].id: 'bridge' is a topic of the bridge itself",
        ),
        (
            lambda d: d["links"].append(dict(d["links"][0], name="again")),
            "links[1].url: the same link as links[0]",
        ),
        (lambda d: d.update(instance="Site A"), "instance: does not match"),
        (
            lambda d: d["mqtt"].update(password_env="NOT_SET_ANYWHERE", username="u"),
            "mqtt.password_env: the environment variable NOT_SET_ANYWHERE is not set",
        ),
        (lambda d: d["mqtt"].update(password="x"), "mqtt.username: a password needs a user name"),
        (
            lambda d: d["mqtt"].update(tls={"ca": "/nonexistent/ca.crt"}),
            "mqtt.tls.ca: /nonexistent/ca.crt is not a file",
        ),
        (lambda d: d.pop("links"), "links: required, but missing"),
    ],
)
def test_every_problem_names_its_key_path(change: Any, expected: str) -> None:
    """A mistake is reported with the path of the key that holds it."""
    data = _valid()
    change(data)
    problems = _problems(data)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    """Several mistakes in one file: each gets its own line."""
    data = _valid()
    data["links"][0]["devices"][0]["profile"] = "nope"
    data["mqtt"]["password_env"] = "NOT_SET"
    data["mqtt"]["username"] = "u"
    assert len(_problems(data)) == 2


def test_the_password_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    """password_env and password_file supply the secret; it never shows in the redacted view."""
    data = _valid()
    data["mqtt"].update(username="bridge", password_env="BRIDGE_SECRET")
    settings = parse_settings(data, {"BRIDGE_SECRET": "s3cret-env"})
    assert settings.mqtt.password == "s3cret-env"
    assert "s3cret-env" not in json.dumps(settings.redacted())
    assert "s3cret-env" not in repr(settings)
    secret = tmp_path / "password"
    secret.write_text("s3cret-file\n", encoding="utf-8")
    del data["mqtt"]["password_env"]
    data["mqtt"]["password_file"] = str(secret)
    assert parse_settings(data, {}).mqtt.password == "s3cret-file"


def test_a_written_password_is_never_logged(tmp_path: Path) -> None:
    """Even at debug level, the configuration the bridge logs has the password replaced."""
    data = _valid()
    data["mqtt"].update(username="bridge", password="written-in-the-file", port=1)
    data["log_level"] = "debug"
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "mqtt_bridge", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = process.communicate(timeout=3)[0]
    except subprocess.TimeoutExpired:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Configuration:" in output
    assert "written-in-the-file" not in output


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mqtt_bridge`` with ``args``."""
    return subprocess.run(
        [sys.executable, "-m", "mqtt_bridge", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_check_config_accepts_a_good_file_and_refuses_a_bad_one_with_exit_2(tmp_path: Path) -> None:
    """--check-config: 0 and a summary for a good file; 2 and the key path for a bad one."""
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("unit: 1", "unit: 999"), encoding="utf-8")
    accepted = _run_cli("--config", str(good), "--check-config")
    refused = _run_cli("--config", str(bad), "--check-config")
    missing = _run_cli("--config", str(tmp_path / "none.yaml"))
    assert accepted.returncode == 0
    assert "main_meter: main meter (pro380, unit 1)" in accepted.stdout
    assert refused.returncode == 2
    assert "links[0].devices[0].unit: value must be at most 255" in refused.stderr
    assert missing.returncode == 2
    assert "cannot read the file" in missing.stderr


def test_ha_version_selects_the_vocabulary() -> None:
    """homeassistant.version 2026.10 keeps the units 2026.10 knows."""
    data = _valid()
    data["homeassistant"] = {"version": "2026.10"}
    assert parse_settings(data, {}).discovery.vocabulary is HA_2026_10


@given(st.text(min_size=1, max_size=40))
@hypothesis_settings(max_examples=200)
def test_any_device_name_gives_a_topic_safe_id_or_a_clear_error(name: str) -> None:
    """A device name becomes a slug usable in every topic, or the name is refused with its path."""
    data = _valid()
    data["links"][0]["devices"][0]["name"] = name
    problems = _problems(data)
    if slug(name):
        assert problems == []
        (device,) = parse_settings(data, {}).devices
        assert device.id == slug(name)
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in device.id)
        assert not device.id.startswith("_") and not device.id.endswith("_")
    else:
        assert problems == [
            "links[0].devices[0].name: has no letter or digit; give the device an id"
        ]


def test_the_reference_page_is_current() -> None:
    """docs/bridge-config.md is exactly what the schema generates; regenerate it if not."""
    assert config_doc_main(["--check"]) == 0


def test_the_check_notices_a_page_that_drifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page one word off is reported as out of date."""
    page = tmp_path / "bridge-config.md"
    page.write_text(render().replace("Broker host", "Broker hots"), encoding="utf-8")
    assert config_doc_main(["--check", "--output", str(page)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_the_full_example_in_the_reference_is_a_valid_configuration(tmp_path: Path) -> None:
    """The generated example validates (its TLS files and password variable supplied)."""
    page = render()
    example = yaml.safe_load(page.split("## A full example")[1].split("```yaml")[1].split("```")[0])
    for name in ("ca", "cert", "key"):
        file = tmp_path / name
        file.write_text("-", encoding="utf-8")
        example["mqtt"]["tls"][name] = str(file)
    example["links"][0]["url"] = "tcp://127.0.0.1:5020"
    settings = parse_settings(example, {"POWERBUS_MQTT_PASSWORD": "x"})
    assert settings.devices[0].commands.permits("reset_day_counter", dangerous=True)
    logging.getLogger(__name__).debug("%s", settings)


def test_a_user_profile_may_not_take_a_shipped_key(tmp_path: Path) -> None:
    """A copy of a shipped file in profiles_dir is refused, as the integration refuses it."""
    shipped = REPO_ROOT / "custom_components" / "powerbus" / "engine" / "profiles" / "pro380.yaml"
    (tmp_path / "copy.yaml").write_text(shipped.read_text("utf-8"), encoding="utf-8")
    data = _valid()
    data["profiles_dir"] = str(tmp_path)

    problems = _problems(data)

    assert any(p.startswith("profiles_dir:") and "pro380" in p for p in problems), problems
