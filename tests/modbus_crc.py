"""CRC-16/MODBUS written from the specification, independently of the engine's own.

Tests that build RTU frames by hand (the hostile server, the framing tests) use it, so
that a mistake in the engine's CRC cannot be mirrored by the frames it is tested with.
"""


def modbus_crc(frame: bytes) -> bytes:
    """CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")
