"""``python -m mqtt_bridge``: the same as the ``powerbus-mqtt`` command."""

import sys

from .cli import main

sys.exit(main())
