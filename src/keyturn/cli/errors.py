"""The CLI's one map from keyturn's errors to exit codes, through click's own exceptions.

Each error class carries its ``exit_code``; :class:`KeyturnClickError` hands it to click, which
prints the message and exits with it. A run's outcome maps to the same codes.
"""

from __future__ import annotations

from typing import IO, Any

import click
from rich.console import Console

from keyturn.errors import KeyturnError, RefusedError
from keyturn.rotation.results import RunResult, Status

EXIT_OK = 0


class KeyturnClickError(click.ClickException):
    """A keyturn error as click sees it: its message and its class's exit code."""

    def __init__(self, error: KeyturnError) -> None:
        super().__init__(str(error))
        # click reads exit_code from the instance; its stubs call it a ClassVar.
        self.exit_code = error.exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        del file  # always stderr, through rich
        # One line, as documented: wrapped at the console's width, a long path in the message
        # would break where the reader (or the SDK running credential-process) copies it.
        console = Console(stderr=True, soft_wrap=True)
        console.print(f"[red]error:[/red] {self.format_message()}", highlight=False)


def run_exit_code(result: RunResult) -> int:
    """A run's exit code: a failed user as any failure, else a refused user as a refusal."""
    if result.failures:
        return KeyturnError.exit_code
    if any(u.status is Status.REFUSED for u in result.users):
        return RefusedError.exit_code
    return EXIT_OK
