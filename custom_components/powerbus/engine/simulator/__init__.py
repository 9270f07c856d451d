"""Simulated Modbus devices for tests and demonstrations, served over TCP and RTU.

- ``device``: the protocol a simulated device implements, and a plain register image.
- ``faults``: faults to inject (no answer, exception codes, delays, damaged frames,
  dropped connections) and the plan that applies them.
- ``server``: the simulator that serves devices by unit id over Modbus TCP and RTU.
- ``modbus_server``: the pymodbus server underneath it, for every supported
  pymodbus version.
- ``profile_device`` and one module per device family: devices built from a
  profile, with behaviour stated from the vendors' documents.
- ``clock``: a clock that moves only when told to, so that tests let simulated
  time pass without waiting for it.

The engine's runtime never imports this package; only the command-line tool,
tests and benchmarks do. The modules are imported one by one; this package
imports none of them, so that importing a device type does not pull in pymodbus.
"""
