"""The onboarding forecast as ``keyturn plan`` and the Lambda ``plan`` action show it."""

from __future__ import annotations

from datetime import timedelta

from keyturn.cli.tables import forecast_lines
from keyturn.handler import handle
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

DAY = timedelta(days=1)


def _fleet(world: FakeAws) -> dict[str, str]:
    ids = {}
    for name, age in {"fresh": 10, "near": 85.25, "old": 200}.items():
        world.iam.add_user(name)
        ids[name] = world.iam.add_key(name, age_days=age).key_id
    return ids


def test_the_forecast_reads_every_managed_user_once(world: FakeAws) -> None:
    # GIVEN a fresh key, one near the cap and one far past it
    ids = _fleet(world)
    now = world.clock.now()
    # WHEN a plan asks for the forecast
    run = world.rotator().plan_all(forecast=True)
    found = run.forecast
    # THEN the first run rotates two keys; the one past the cap goes on the floor's run, and
    # from then on no key is over the cap (the near one goes on the last run before its cap)
    assert found is not None
    assert {(k.user_name, k.key_id) for k in found.rotations} == {
        ("near", ids["near"]),
        ("old", ids["old"]),
    }
    assert [(k.user_name, k.retires_at) for k in found.past_cap] == [("old", now + DAY)]
    assert found.compliant_by == now + DAY
    assert found.no_date == ()
    assert world.rotator().forecast() == found
    assert world.rotator().plan_all().forecast is None  # only when asked for


def test_a_user_with_unusable_tags_is_listed_not_dropped(world: FakeAws) -> None:
    _fleet(world)
    world.iam.add_user("tagged", tags={"keyturn:rotate-after-days": "soon"})
    world.iam.add_key("tagged", age_days=100)
    found = world.rotator().forecast()
    assert [n.user_name for n in found.no_date] == ["tagged"]
    assert "keyturn:rotate-after-days" in found.no_date[0].reason
    assert found.compliant_by is None


def test_users_outside_the_scope_are_not_forecast(world: FakeAws) -> None:
    _fleet(world)
    settings = Settings(scope=Scope(user_names=frozenset({"fresh"})))
    found = world.rotator(settings).forecast()
    assert (found.rotations, found.past_cap, found.no_date) == ((), (), ())
    assert found.compliant_by == world.clock.now()


def test_the_plan_table_ends_with_the_forecast(world: FakeAws) -> None:
    ids = _fleet(world)
    world.iam.add_user("frozen", tags={"keyturn:exempt": "true"})
    found = world.rotator().forecast()
    text = "\n".join(forecast_lines(found))
    now = world.clock.now()
    assert "a first run rotates 2 key(s)" in text
    assert f"deactivated on {now + DAY:%Y-%m-%d}" in text
    assert f"compliant by {now + DAY:%Y-%m-%d %H:%M} UTC" in text
    assert "exempt (reported only): frozen" in text
    assert ids["old"] not in text  # key ids masked


def test_the_lambda_plan_action_returns_the_forecast(world: FakeAws) -> None:
    ids = _fleet(world)

    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return world.rotator()

    body = handle({"action": "plan"}, "unit", factory)["body"]
    forecast = body["forecast"]
    assert forecast["rotation_count"] == 2
    assert [(k["UserName"], k["AccessKeyId"]) for k in forecast["past_cap"]] == [
        ("old", ids["old"])
    ]
    assert forecast["past_cap"][0]["deactivate_at"] is not None
    assert forecast["compliant_by"] == (world.clock.now() + DAY).isoformat("T", "seconds")
    assert forecast["no_date"] == []
