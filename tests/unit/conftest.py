"""The unit tier's one world factory: keyturn's in-memory AWS, set up by a ``world`` marker."""

from __future__ import annotations

import pytest

from keyturn.testing import FakeAws


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "world(users=None, rotate=(), advance_days=0): the users (name: key age in days, or "
        "None for no key) the world fixture starts with, whom it rotates, and how many days "
        "pass after that",
    )


@pytest.fixture
def world(request: pytest.FixtureRequest) -> FakeAws:
    """An in-memory AWS on a manual clock, as the closest ``world`` marker describes it."""
    marker = request.node.get_closest_marker("world")
    options = dict(marker.kwargs) if marker else {}
    built = FakeAws()
    users: dict[str, float | None] = options.get("users") or {}
    for name, key_age in users.items():
        built.iam.add_user(name)
        if key_age is not None:
            built.iam.add_key(name, age_days=key_age)
    for name in options.get("rotate", ()):
        built.rotator().rotate(name)
    built.clock.advance(days=options.get("advance_days", 0))
    return built
