"""The figures the suite prints after a run, added up over every process that ran tests.

Three tallies end a run: the secret scan's totals (``secret_hygiene.TOTALS``), the reliability
tier's figures (``report``) and the insider attacks tried and succeeded (``TALLY``). Each is
kept in the process that runs the tests. Under pytest-xdist (``make test`` runs two workers)
those are the workers: each sends its secret totals and figures to the controller when its
session ends (``workeroutput``), the controller adds them up, and only the controller prints.
Attack tests are counted from the reports the controller receives (every phase of every test,
as in one process), so no worker sends them. Run without workers, the one process does all.

A figure belongs to one test module; ``make test`` distributes whole modules (``--dist
loadfile``), so a figure that is a running total over a module's tests stays whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pytest

from tests import secret_hygiene

ATTACK = "attack"
"""The marker of a test that reproduces an insider attack (registered in tests/security)."""

FIGURES: dict[str, str] = {}
"""The reliability tier's figures, by name, for the summary."""

_FIGURES_OUT = "keyturn_figures"
_SECRETS_OUT = "keyturn_secret_totals"


def report(name: str, value: str) -> None:
    """Record a figure for the summary printed after the run."""
    FIGURES[name] = value


@dataclass
class AttackTally:
    tried: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)


TALLY = AttackTally()
"""This run's attack tally, in the process that prints it."""


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every phase's report: an attack test was tried once it ran; any failed phase (setup,
    call, teardown, or the secret scan's verdict) means the attack was not shown to fail."""
    if ATTACK not in report.keywords or report.skipped:
        return
    TALLY.tried.add(report.nodeid)
    if report.failed:
        TALLY.succeeded.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a worker: hand this worker's figures and secret totals to the controller."""
    if _is_worker(session.config):
        output: dict[str, Any] = session.config.workeroutput  # type: ignore[attr-defined]
        output[_FIGURES_OUT] = dict(FIGURES)
        output[_SECRETS_OUT] = asdict(secret_hygiene.TOTALS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the controller (pytest-xdist's hook): add up what a finished worker sent."""
    output: dict[str, Any] = getattr(node, "workeroutput", {})
    FIGURES.update(output.get(_FIGURES_OUT, {}))
    sent = output.get(_SECRETS_OUT, {})
    totals = secret_hygiene.TOTALS
    for name in (f.name for f in fields(totals)):
        setattr(totals, name, getattr(totals, name) + int(sent.get(name, 0)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _is_worker(terminalreporter.config):
        return
    _secret_scan(terminalreporter)
    _reliability_figures(terminalreporter)
    _insider_attacks(terminalreporter)


def _secret_scan(terminal: pytest.TerminalReporter) -> None:
    totals = secret_hygiene.TOTALS
    if not totals.tests:
        return
    terminal.section("keyturn secret scan")
    terminal.write_line(
        f"secret leaks: {totals.hits} hits in {totals.texts} texts and {totals.log_records} "
        f"log records (DEBUG) of {totals.tests} tests, against {totals.secrets} issued secrets; "
        f"{totals.opt_in_notifications} opt-in notifications carried a secret by design"
    )


def _reliability_figures(terminal: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    mode = "slow" if os.environ.get("KEYTURN_SLOW") == "1" else "default"
    terminal.section(f"keyturn reliability figures ({mode} mode)")
    for name, value in FIGURES.items():
        terminal.write_line(f"{name}: {value}")


def _insider_attacks(terminal: pytest.TerminalReporter) -> None:
    if not TALLY.tried:
        return
    terminal.section("keyturn insider attacks")
    terminal.write_line(
        f"insider attacks tried: {len(TALLY.tried)}, succeeded: {len(TALLY.succeeded)}"
    )
