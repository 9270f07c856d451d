"""Link URLs: what users type to name a Modbus link, and clear errors when it is wrong."""

from __future__ import annotations

import pytest

from powerbus.errors import ConfigError
from powerbus.link import LinkKind, parse_link
from powerbus.models import TransportDefaults


def test_tcp_and_rtu_over_tcp() -> None:
    """Host and port come from the URL; 502 is the default port."""
    assert parse_link("tcp://127.0.0.1:5020").port == 5020
    assert parse_link("tcp://127.0.0.1").port == 502
    assert parse_link("rtu+tcp://127.0.0.1:4001").kind is LinkKind.RTU_OVER_TCP


def test_serial_settings_from_url_override_profile_defaults() -> None:
    """Named serial settings win; the rest comes from the profile."""
    link = parse_link("rtu:///dev/ttyUSB0?baudrate=19200").resolve(TransportDefaults(parity="E"))
    assert (link.serial_port, link.baudrate, link.parity, link.stopbits) == (
        "/dev/ttyUSB0",
        19200,
        "E",
        1,
    )


def test_rtu_timing_at_9600_baud() -> None:
    """One character is 11 bits; the frame silence is 3.5 characters (about 4 ms at 9600 Bd)."""
    link = parse_link("rtu:///dev/ttyUSB0?baudrate=9600")
    assert link.character_time == pytest.approx(11 / 9600)
    assert link.frame_silence == pytest.approx(3.5 * 11 / 9600)
    assert parse_link("rtu:///dev/ttyUSB0?baudrate=38400").frame_silence == pytest.approx(0.00175)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("udp://127.0.0.1", "link"),
        ("rtu://", "link"),
        ("tcp://:502", "link"),
        ("tcp://127.0.0.1:99999", "link.port"),
        ("rtu:///dev/ttyUSB0?speed=9600", "link.speed"),
        ("rtu:///dev/ttyUSB0?baudrate=fast", "link.baudrate"),
        ("rtu:///dev/ttyUSB0?parity=X", "link.parity"),
        ("tcp://127.0.0.1?baudrate=9600", "link"),
    ],
)
def test_bad_link_names_the_key(url: str, key: str) -> None:
    """Every mistake is a ConfigError naming the part of the URL that is wrong."""
    with pytest.raises(ConfigError) as caught:
        parse_link(url)
    assert caught.value.key == key
