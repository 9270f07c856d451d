"""The pymodbus adapter, the only package that imports pymodbus.

``client.py`` is the client side; ``server.py`` serves the device simulator.
"""
