"""Tests against a Modbus server that answers wrongly on purpose."""
