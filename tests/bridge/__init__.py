"""Tests of the MQTT bridge against a real broker and simulated devices."""
