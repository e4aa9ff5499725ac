"""The insider attacks keyturn must stop, and their tally.

A test marked ``@pytest.mark.attack("what it tries")`` reproduces one attack and asserts both
that it fails and that the legitimate request beside it still succeeds. The terminal summary
prints ``insider attacks tried: N, succeeded: M``, where M counts the attack tests that failed
(an attack that was not stopped, or a test that could not show it was); tests/summary.py
keeps the tally, over xdist workers too. ``cloud`` is the shared
moto server with the CloudFormation shims keyturn's templates need, as in tests/infra.
"""

from __future__ import annotations

import pytest

from keyturn.emulator import EmbeddedAws
from tests.infra import moto_shims
from tests.summary import ATTACK

MARKER = ATTACK


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(name): reproduces an insider attack that must fail (counted)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is not None and not (marker.args and isinstance(marker.args[0], str)):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.attack needs the attack's name")


@pytest.fixture
def cloud(aws: EmbeddedAws) -> EmbeddedAws:
    """The shared moto server, able to create every resource type of keyturn's templates."""
    moto_shims.install()
    return aws
