"""The Powerbus engine: device profiles, codecs, read planner, bus owner, poller and simulators.

This package never imports Home Assistant or paho-mqtt; the integration and the MQTT
bridge both build on it. pymodbus is imported only by ``adapter/`` (the client the
engine runs) and ``simulator/`` (the server that serves simulated devices).
"""
