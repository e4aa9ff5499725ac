"""What a long command shows while it works: a progress bar on stderr, for a person only.

The bar is drawn when stderr is a terminal and the output is a table; never with
``--output json``, never when stderr is piped or redirected (a script reading the output sees
only the result). It is transient: when the command ends it is erased, and the result and its
one-line summary are what stays. The service tells each finished user through the
``progress`` callback of ``Rotator.run`` and ``Rotator.plan_all``, possibly from worker
threads, so :class:`Ticker` counts under a lock.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from keyturn.rotation.results import UserResult


class Ticker:
    """Counts the users a command has finished, by status, and moves the bar (if any)."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None) -> None:
        self._bar, self._task = bar, task
        self._lock = threading.Lock()
        self.tally: Counter[str] = Counter()

    def __call__(self, result: UserResult) -> None:
        """One user finished (the ``progress`` callback of a run or a plan)."""
        with self._lock:
            self.tally[result.status.value] += 1
            if self._bar is not None and self._task is not None:
                shown = ", ".join(f"{n} {status}" for status, n in sorted(self.tally.items()))
                self._bar.update(self._task, advance=1, tally=shown)


def wants_progress(output: str, stream: TextIO | None = None) -> bool:
    """A bar only for a person: table output, and stderr a terminal."""
    stream = stream if stream is not None else sys.stderr
    return output != "json" and stream.isatty()


@contextmanager
def progress_bar(
    label: str, *, show: bool, total: int | None = None, console: Console | None = None
) -> Iterator[Ticker]:
    """A :class:`Ticker` whose bar is drawn on stderr while the block runs (when ``show``).

    ``total`` is the number of users when it is known up front; None draws a pulsing bar with
    the count so far (a run learns its users as it lists them).
    """
    if not show:
        yield Ticker()
        return
    console = console or Console(stderr=True, force_terminal=True, highlight=False)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"),
        TimeElapsedColumn(),
    )
    bar = Progress(
        *columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False
    )
    with bar:
        yield Ticker(bar, bar.add_task(label, total=total, tally=""))
