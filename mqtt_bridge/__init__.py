"""The Powerbus MQTT bridge: polls devices through the engine and publishes them to MQTT.

The bridge daemon itself is not built yet; this package reserves its place in the layout.
"""
