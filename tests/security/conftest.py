"""The insider attacks keyturn must stop, and their tally.

A test marked ``@pytest.mark.attack("what it tries")`` reproduces one attack and asserts both
that it fails and that the legitimate request beside it still succeeds. The terminal summary
prints ``insider attacks tried: N, succeeded: M``, where M counts the attack tests that failed
(an attack that was not stopped, or a test that could not show it was). ``cloud`` is the shared
moto server with the CloudFormation shims keyturn's templates need, as in tests/infra.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from keyturn.emulator import EmbeddedAws
from tests.infra import moto_shims

MARKER = "attack"


@dataclass
class AttackTally:
    tried: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)


TALLY = AttackTally()
"""This run's tally (one per process, as the reports it counts)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(name): reproduces an insider attack that must fail (counted)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is not None and not (marker.args and isinstance(marker.args[0], str)):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.attack needs the attack's name")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every phase's report: an attack test was tried once it ran; any failed phase (setup,
    call, teardown, or the secret scan's verdict) means the attack was not shown to fail."""
    if MARKER not in report.keywords or report.skipped:
        return
    TALLY.tried.add(report.nodeid)
    if report.failed:
        TALLY.succeeded.add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.tried:
        return
    terminalreporter.section("keyturn insider attacks")
    terminalreporter.write_line(
        f"insider attacks tried: {len(TALLY.tried)}, succeeded: {len(TALLY.succeeded)}"
    )


@pytest.fixture
def cloud(aws: EmbeddedAws) -> EmbeddedAws:
    """The shared moto server, able to create every resource type of keyturn's templates."""
    moto_shims.install()
    return aws
