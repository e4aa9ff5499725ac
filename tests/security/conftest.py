"""The insider attack suite: each test reproduces one attack against moto and asserts it fails.

Mark an attack test ``@pytest.mark.attack("T1: tag an admin user managed")``; the terminal
summary counts them: ``insider attacks tried: N, succeeded: M`` (M = attack tests that failed).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

ATTACKS: dict[str, bool] = {}
"""Attack test node id -> whether the attack was stopped (the test passed)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "attack(name): a test that reproduces an insider attack and asserts it fails"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if item.get_closest_marker("attack") is not None and report.when == "call":
        ATTACKS[item.nodeid] = report.passed
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ATTACKS:
        return
    succeeded = sum(not stopped for stopped in ATTACKS.values())
    terminalreporter.section("keyturn insider attacks")
    terminalreporter.write_line(f"insider attacks tried: {len(ATTACKS)}, succeeded: {succeeded}")
