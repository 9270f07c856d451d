"""The pymodbus client, the only pymodbus code the engine runs on a user's bus.

``client.py`` turns the engine's requests into pymodbus client calls on every
supported pymodbus version. The server that serves simulated devices lives with
them in ``simulator/`` (for tests and demonstrations), so this package depends
on nothing of the simulator.
"""
