"""The Powerbus MQTT bridge: the engine's devices on MQTT, with Home Assistant discovery.

A daemon (``powerbus-mqtt --config FILE``) that polls Modbus links through the
engine's public face (``powerbus``) and publishes every device's entities (the
same keys, units, classes and unique ids as the Home Assistant integration) with
their availability, takes changes and commands back, and keeps Home Assistant's
discovery current. The modules, top to bottom:

- ``schema`` / ``config`` / ``settings``: the one configuration schema, its
  validation and the typed settings it yields; ``config_doc`` writes its reference;
- ``topics``: every topic; ``discovery`` and ``state``: pure payload builders;
- ``client``: the one MQTT connection; ``devices``: the engine sessions;
- ``announcer``, ``publisher`` and ``commands``: discovery, state and requests;
- ``supervisor``: the lifecycle; ``cli``: the command;
- ``demo``, ``broker`` and ``live_view``: the one-command demonstration.
"""
