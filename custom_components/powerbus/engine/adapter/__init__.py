"""The pymodbus client, the only pymodbus code the engine runs on a user's bus.

``client.py`` turns the engine's requests into pymodbus client calls on every
supported pymodbus version. ``exchange.py`` and ``frames.py`` check every answer on
the raw bytes before pymodbus sees it, so that only the answer to the request that
went out is ever taken. The server that serves simulated devices lives with them in
``simulator/`` (for tests and demonstrations), so this package depends on nothing
of the simulator.
"""
