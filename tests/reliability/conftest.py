"""Fixtures of the reliability tier, and the table of figures it prints at the end of a run."""

from __future__ import annotations

import os
from types import SimpleNamespace

import botocore.endpoint
import pytest

SLOW = os.environ.get("KEYTURN_SLOW") == "1"
"""``make test-slow``: the full fault matrix, 10,000 fuzzed events, more concurrency rounds."""

FIGURES: dict[str, str] = {}


def report(name: str, value: str) -> None:
    """Record a figure for the summary printed after the run (and print it in the test)."""
    FIGURES[name] = value
    print(f"{name}: {value}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    mode = "slow" if SLOW else "default"
    terminalreporter.section(f"keyturn reliability figures ({mode} mode)")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry back-off, recorded instead of slept: retries still happen, at once."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps
