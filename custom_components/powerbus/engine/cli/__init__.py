"""The ``powerbus`` command-line tool: inspect profiles, talk to devices, simulate them.

Commands::

    powerbus profiles [list]               the shipped device profiles
    powerbus profiles validate FILE...     check profile files with the engine's loader
    powerbus profiles show PROFILE         points and commands of one profile (a key or a file)
    powerbus read LINK --unit N            read a device's points (or raw registers)
    powerbus write LINK --unit N ...       run a profile command on a device
    powerbus scan LINK                     find devices by probing unit ids
    powerbus simulate PROFILE              serve a simulated device until stopped
    powerbus demo                          watch a simulated PRO380 meter live

A LINK is ``tcp://HOST:PORT``, ``rtu+tcp://HOST:PORT`` or
``'rtu:///dev/ttyUSB0?baudrate=9600&parity=E'`` (quoted in a shell, which would
cut it at the ``&``). Exit codes (``output.EXIT_CODES``, shown by ``powerbus
--help`` and in the README): 0 success, 1 the link or device did not answer or no
point could be read (or a command failed on the device), 2 the request was refused
before anything was sent (bad arguments, an invalid profile, a dangerous command
without ``--confirm``).

``parser`` builds the arguments and turns each command's outcome into its exit code;
``arguments`` says what each argument accepts, and ``resolve`` turns LINK and profile
arguments into link settings and profiles. ``profiles``, ``read``, ``write``, ``scan`` and
``serve`` (``simulate`` and ``demo``) hold one command each; ``readings`` shows a device's
readings, ``demo_view`` draws the demo's screen, ``numbering`` numbers registers as a
device's document does, and ``output`` lays out tables, values and error lines.
"""

from __future__ import annotations

from .arguments import RawSpan
from .output import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, format_number, format_table, format_value
from .parser import build_parser, main
from .readings import ReadOptions, readings_document, render_readings, show_readings

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_REFUSED",
    "RawSpan",
    "ReadOptions",
    "build_parser",
    "format_number",
    "format_table",
    "format_value",
    "main",
    "readings_document",
    "render_readings",
    "show_readings",
]
