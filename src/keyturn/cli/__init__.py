"""The ``keyturn`` command line: wires flags into settings and calls the engine."""

from keyturn.cli.commands import cli, main

__all__ = ["cli", "main"]
