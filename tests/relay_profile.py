"""A relay with one writable coil: the smallest device profile with a switch, for user-profile tests."""

RELAY_PROFILE = """
family: test_relay
manufacturer: Test
addressing: pdu
transport: {unit_id: 5}
limits:
  readable:
    - {table: coil, start: 0, end: 7}
point_sets:
  relay:
    - {key: relay, name: Relay, table: coil, data_type: bool, address: 0, group: fast, write: {}}
variants:
  - {key: test_relay, name: Test relay, models: [Relay], point_sets: [relay]}
"""
"""The ``test_relay`` family: unit 5 by default, its coil ``relay`` a switch."""
