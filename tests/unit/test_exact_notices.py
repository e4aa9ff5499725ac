"""The rotation notice tells the exact runs on which the replaced key is deactivated and deleted.

Both come from the planner's dates on the run clock: the grace period's run, or the last run
before the cap when that comes first (a key first seen near the cap), never before the floor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from keyturn.core import Policy
from keyturn.core.deadlines import RunClock
from keyturn.handler import handle
from keyturn.rotation import notices
from keyturn.rotation.ports import Notification, NotificationKind
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

DAY = timedelta(days=1)


def _rotated(world: FakeAws) -> Notification:
    return [n for n in world.notifier.sent if n.kind is NotificationKind.ROTATED][-1]


def _dates(message: Notification) -> tuple[object, object]:
    return message.body["DeactivatePreviousAt"], message.body["DeletePreviousAt"]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@pytest.mark.parametrize(
    ("age_days", "deactivate_in", "policy"),
    [
        (80, 7 * DAY, Policy()),  # on schedule: the full grace period
        (85.25, 4 * DAY, Policy()),  # first seen near the cap: the last run before it
        (200, 1 * DAY, Policy()),  # past the cap: the floor's run
        (200, 3 * DAY, Policy(min_grace_days=3)),
        (85.25, 7 * DAY, Policy(enforce_max_age=False)),  # no cap: the full grace period
    ],
)
def test_the_scheduled_run_announces_the_planners_dates(
    world: FakeAws, age_days: float, deactivate_in: timedelta, policy: Policy
) -> None:
    # GIVEN a user whose only key is age_days old, on a daily run clock
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=age_days)
    now = world.clock.now()
    # WHEN the scheduled run rotates it
    world.rotator(Settings(policy=policy, scope=Scope(user_path="/"))).run()
    # THEN the notice names the exact runs, deletion 7 days after deactivation
    deactivate = now + deactivate_in
    assert _dates(_rotated(world)) == (_iso(deactivate), _iso(deactivate + 7 * DAY))


def test_the_notice_keeps_its_promise(world: FakeAws) -> None:
    # GIVEN a key first seen at 85.25 days, rotated, and a consumer that never lets go
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85.25)
    world.rotator().run()
    promised = _rotated(world).body["DeactivatePreviousAt"]
    # WHEN daily runs follow (the clock a few seconds late each time)
    deactivated_on = None
    for day in range(1, 8):
        world.clock.advance(days=1, seconds=3)
        world.iam.record_use("app", old.key_id)
        world.rotator().run()
        if (
            deactivated_on is None
            and not next(k for k in world.iam.keys["app"] if k.key_id == old.key_id).active
        ):
            deactivated_on = day
    # THEN the key went on the run the notice named: day 4, under the 90-day cap
    assert deactivated_on == 4
    assert isinstance(promised, str)
    assert datetime.fromisoformat(promised) - old.created < timedelta(days=90)


def test_no_active_replaced_key_no_dates() -> None:
    assert notices.retirement_schedule(None, 7, RunClock()) == (None, None)


def test_deletion_lands_on_a_run_without_a_schedule_too() -> None:
    at = datetime(2026, 6, 1, 3, 0, 7).astimezone()
    assert notices.retirement_schedule(at, 7, RunClock(None)) == (at, at + 7 * DAY)


@pytest.mark.world(users={"app": 85}, rotate=["app"], advance_days=8)
def test_a_secrets_manager_rotation_announces_the_same_dates(world: FakeAws) -> None:
    # GIVEN a previous key past its grace, and Secrets Manager asking for a rotation
    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return world.rotator()

    token = str(uuid.uuid4())
    now = world.clock.now()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        handle({"Step": step, "SecretId": "keyturn/app", "ClientRequestToken": token}, "u", factory)
    # THEN the 8-day-old key it replaced goes after the full grace, deleted 7 days later
    assert _dates(_rotated(world)) == (_iso(now + 7 * DAY), _iso(now + 14 * DAY))
