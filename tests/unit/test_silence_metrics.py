"""The metrics the silence alarms watch (RunsSucceeded, UsersDeferred, KeysPastCap), as the
Lambda face emits them through Powertools, and the per-user progress of runs and plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from threading import Lock

import pytest

from keyturn.errors import PartialRotationError
from keyturn.handler import handle, metrics
from keyturn.rotation.results import Status, UserResult
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.testing import FakeAws

Factory = Callable[[Settings, str], Rotator]


@pytest.fixture
def emitted() -> Iterator[Callable[[], dict[str, list[float]]]]:
    """The metrics emitted since the test began, by name (Powertools' pending metric set)."""
    metrics.clear_metrics()

    def read() -> dict[str, list[float]]:
        return {name: list(m["Value"]) for name, m in metrics.metric_set.items()}

    yield read
    metrics.clear_metrics()


def factory_of(world: FakeAws) -> Factory:
    def build(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return world.rotator()

    return build


def test_a_run_counts_the_managed_keys_it_leaves_past_the_cap(
    world: FakeAws, emitted: Callable[[], dict[str, list[float]]]
) -> None:
    # GIVEN a key past the 90-day cap (rotated, but it keeps working for the grace floor), a
    # refused user with an old key, an exempt user's old key and a young key
    for name, ages, tags in [
        ("old", (120,), {}),
        ("stuck", (95, 20), {}),
        ("frozen", (300,), {"keyturn:exempt": "true"}),
        ("young", (10,), {}),
    ]:
        world.iam.add_user(name, tags=tags)
        for age in ages:
            world.iam.add_key(name, age_days=age)
    # WHEN the scheduled run ({"action": "run"}) is served
    assert handle({"action": "run"}, "unit", factory_of(world))["statusCode"] == 200
    # THEN the old key and the refused user's are past the cap; the exempt one is not counted
    found = emitted()
    assert found["KeysPastCap"] == [2.0]
    assert found["RunsSucceeded"] == [1.0]
    assert found["RotationsRefused"] == [1.0]
    assert "UsersDeferred" not in found


def test_a_run_with_nothing_past_the_cap_says_zero(
    world: FakeAws, emitted: Callable[[], dict[str, list[float]]]
) -> None:
    world.iam.add_user("young")
    world.iam.add_key("young", age_days=10)
    handle({"action": "run"}, "unit", factory_of(world))
    assert emitted()["KeysPastCap"] == [0.0], "0 is emitted, so the alarm follows each run"


def test_a_run_with_a_failed_user_is_not_a_success(
    world: FakeAws, emitted: Callable[[], dict[str, list[float]]]
) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    world.secrets.fail_deliveries = 1
    with pytest.raises(PartialRotationError):
        handle({"action": "run"}, "unit", factory_of(world))
    found = emitted()
    assert "RunsSucceeded" not in found
    assert found["RotationsFailed"]
    assert found["KeysPastCap"] == [0.0]


def test_the_retire_pass_and_explicit_events_emit_no_silence_metric(
    world: FakeAws, emitted: Callable[[], dict[str, list[float]]]
) -> None:
    # GIVEN a user in a grace period with a key past the cap, and another with an old key
    world.iam.add_user("old")
    world.iam.add_key("old", age_days=120)
    world.rotator().rotate("old")
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=30)
    metrics.clear_metrics()
    # WHEN the retire pass (only users in a grace period) and an explicit rotation are served
    handle({"action": "retire"}, "unit", factory_of(world))
    handle({"action": "create", "username": "app"}, "unit", factory_of(world))
    # THEN neither is taken for a run: the pass sees part of the users, a rotation one
    found = emitted()
    assert "KeysPastCap" not in found
    assert "RunsSucceeded" not in found
    assert found["KeysRotated"] == [1.0]


def test_a_run_counts_each_user_it_defers(world: FakeAws) -> None:
    for name in ("a", "b", "c"):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=85)
    metrics.clear_metrics()
    # no time for a rotation: every due user is deferred, and the run still succeeded
    handle({"action": "run"}, "unit", factory_of(world), seconds_left=lambda: 10.0)
    assert metrics.metric_set["UsersDeferred"]["Value"] == [3.0]  # one per deferred user
    assert metrics.metric_set["RunsSucceeded"]["Value"] == [1.0]
    metrics.clear_metrics()


def test_run_and_plan_tell_progress_once_per_user(world: FakeAws) -> None:
    for name, age in [("a", 85), ("b", 10), ("c", 200)]:
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=age)
    world.iam.add_user("outside", path="/other/")
    settings = Settings.from_env({"KEYTURN_USERS": "a,b,c"})
    told: list[UserResult] = []
    lock = Lock()

    def progress(result: UserResult) -> None:
        with lock:
            told.append(result)

    planned = world.rotator(settings).plan_all(progress=progress)
    assert told == list(planned.users)
    told.clear()
    run = world.rotator(settings).run(progress=progress)
    # a run tells each user once, in the order they finish (many at once)
    assert sorted(told, key=lambda u: u.user_name) == sorted(run.users, key=lambda u: u.user_name)
    assert {u.status for u in told} == {Status.CHANGED, Status.UNCHANGED, Status.UNMANAGED}
