"""Fixtures of the reliability tier; its figures (``report``) are printed by tests/summary.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from moto.iam.models import IAMBackend

from keyturn.emulator import fidelity
from tests.summary import report

from .world import ACTIVE

SLOW = os.environ.get("KEYTURN_SLOW") == "1"
"""``make test-slow``: the full fault matrix, 10,000 fuzzed events, more concurrency rounds."""

__all__ = ["SLOW", "report"]


@pytest.fixture
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry back-off, recorded instead of slept: retries still happen, at once."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.fixture(autouse=True)
def _moto_as_on_aws() -> Iterator[None]:
    """moto patched where it differs from AWS in ways keyturn relies on (inactive keys fail,
    AWSCURRENT moves the default version, a staged value cannot be overwritten)."""
    with fidelity.patched():
        yield


@pytest.fixture(autouse=True)
def _iam_on_world_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto stamps keys with the real time; a World's clock may be days ahead. Keys are stamped
    on the world's timeline, so a key made "now" is not older than the in-flight mark set
    just before it (which the planner relies on to recognise undelivered keys)."""
    original = IAMBackend.create_access_key

    def on_world_time(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        key = original(self, *args, **kwargs)
        key.create_date = key.create_date + ACTIVE.offset()
        return key

    monkeypatch.setattr(IAMBackend, "create_access_key", on_world_time)
    yield
    ACTIVE.clock = None
