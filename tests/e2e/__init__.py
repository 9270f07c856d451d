"""End-to-end tests over real Modbus links."""
