"""Simulated Modbus devices for tests and demonstrations, served over TCP and RTU.

- ``device``: the protocol a simulated device implements, and a plain register image.
- ``faults``: faults to inject (no answer, exception codes, delays, damaged frames,
  dropped connections) and the plan that applies them.
- ``server``: the simulator that serves devices by unit id over Modbus TCP and RTU.

The modules are imported one by one; this package imports none of them, so that
the pymodbus adapter can use the device and fault types without a cycle.
"""
