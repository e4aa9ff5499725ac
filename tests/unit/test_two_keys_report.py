"""Each deactivation of a previous key says how long two keys were active, everywhere."""

from __future__ import annotations

import logging

import pytest

from keyturn.rotation.views import user_json
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws


def test_the_deactivation_reports_two_key_days(caplog: pytest.LogCaptureFixture) -> None:
    world = FakeAws(settings=Settings(scope=Scope(user_names=frozenset({"app"}))))
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    world.rotator().run()
    world.clock.advance(days=7, hours=6)
    with caplog.at_level(logging.INFO, logger="keyturn.audit"):
        (result,) = world.rotator().run().users
    (step,) = result.done
    assert step.two_keys_active_days == 7.25
    assert user_json(result)["done"][0]["two_keys_active_days"] == 7.25
    audits = [r for r in caplog.records if getattr(r, "action", "") == "deactivate"]
    assert audits
    assert {r.two_keys_active_days for r in audits} == {7.25}  # type: ignore[attr-defined]
    assert world.notifier.sent[-1].body["TwoKeysActiveDays"] == 7.25
