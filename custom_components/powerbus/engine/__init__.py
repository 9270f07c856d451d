"""The Powerbus engine: device profiles, codecs, read planner, bus owner, poller and simulators.

This package never imports Home Assistant or paho-mqtt; the integration and the MQTT
bridge both build on it. pymodbus is only imported inside ``adapter/``.
"""
