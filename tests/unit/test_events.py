"""Handler events: every accepted shape, and a clear 400 message for everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyturn.core.inputs import EARLIEST_AT, LATEST_AT, parse_at
from keyturn.core.policy import MAX_DAYS, Policy
from keyturn.errors import BadRequestError
from keyturn.handler.events import (
    PlanRequest,
    RestoreRequest,
    RotateRequest,
    RunRequest,
    parse_event,
)
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws, ManualClock

SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-23T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/keyturn-daily"],
    "detail": {},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"action": "create", "username": "test"}, RotateRequest("test")),
        (
            {"action": "create", "username": "sap.adapter@corp", "grace_days": 0},
            RotateRequest("sap.adapter@corp", 0),
        ),
        (
            {"action": "create", "username": "a", "grace_days": 3, "delete_after_days": 1},
            RotateRequest("a", 3, 1),
        ),
        ({"action": "run"}, RunRequest()),
        (SCHEDULED, RunRequest()),
        ({"action": "plan"}, PlanRequest()),
        ({"action": "plan", "at": "2027-01-01"}, PlanRequest(datetime(2027, 1, 1, tzinfo=UTC))),
        ({"action": "restore", "username": "test"}, RestoreRequest("test")),
    ],
)
def test_accepted_events(event: object, expected: object) -> None:
    assert parse_event(event) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("create test", "must be a JSON object"),
        (None, "must be a JSON object"),
        ([{"action": "create"}], "must be a JSON object"),
        ({}, "'action' must be one of"),
        ({"action": "delete", "username": "x"}, "'action' must be one of"),
        ({"action": 1}, "'action' must be one of"),
        ({"action": "create"}, "needs 'username'"),
        ({"action": "create", "username": ""}, "1-64 characters"),
        ({"action": "create", "username": "   "}, "1-64 characters"),
        ({"action": "create", "username": 42}, "must be a string"),
        ({"action": "create", "username": None}, "must be a string"),
        ({"action": "create", "username": "x" * 65}, "1-64 characters"),
        ({"action": "create", "username": "bad/name"}, "1-64 characters"),
        ({"action": "create", "username": "app\n"}, "1-64 characters"),
        ({"action": "create", "username": "caf\u00e9"}, "ASCII"),
        ({"action": "create", "username": "\u0430dmin"}, "ASCII"),  # Cyrillic a
        ({"action": "create", "username": "app\u0661"}, "ASCII"),  # an Arabic-Indic digit
        ({"action": "restore", "username": "\uff41pp"}, "ASCII"),  # fullwidth a
        ({"action": "create", "username": "a", "grace_days": -1}, "'grace_days'"),
        ({"action": "create", "username": "a", "grace_days": "7"}, "'grace_days'"),
        ({"action": "create", "username": "a", "grace_days": True}, "'grace_days'"),
        ({"action": "create", "username": "a", "grace_days": 1.5}, "'grace_days'"),
        ({"action": "create", "username": "a", "extra": 1}, "unknown field"),
        ({"action": "plan", "at": "tomorrow"}, "not an ISO 8601 date"),
        ({"action": "plan", "at": 20270101}, "ISO 8601 date string"),
        ({"action": "plan", "at": "9999-12-31"}, "'at' must be from 2006-01-01 up to 2200-01-01"),
        ({"action": "plan", "at": "2200-01-01"}, "'at' must be from"),
        ({"action": "plan", "at": "2199-12-31T23:00-05:00"}, "'at' must be from"),
        ({"action": "plan", "at": "2005-12-31T23:59:59"}, "'at' must be from"),
        ({"action": "plan", "at": "0001-01-01T00:00+23:59"}, "'at' must be from"),
        ({"detail-type": "Scheduled Event", "source": "evil.source"}, "'action' must be one of"),
    ],
)
def test_rejected_events_say_why(event: object, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse_event(event)


@pytest.mark.parametrize("name", ["A", "z" * 64, "Az09+=,.@_-", "sap.adapter@corp", "-x-"])
def test_every_name_iam_allows_is_accepted(name: str) -> None:
    assert parse_event({"action": "restore", "username": name}) == RestoreRequest(name)


@pytest.mark.parametrize(
    "at", ["2006-01-01", "2199-12-31T23:59:59.999999", "2199-12-31T18:00-05:00"]
)
def test_at_may_name_any_moment_from_2006_up_to_2200(at: str) -> None:
    parsed = parse_at(at)
    assert EARLIEST_AT <= parsed < LATEST_AT
    assert parse_event({"action": "plan", "at": at}) == PlanRequest(parsed)


@pytest.mark.parametrize("at", [EARLIEST_AT, LATEST_AT - timedelta(microseconds=1)])
def test_no_plan_leaves_datetime_at_either_end_of_the_range(at: datetime) -> None:
    # GIVEN the longest periods the policy allows, and keys young, old and in between
    longest = Policy(
        rotate_after_days=MAX_DAYS,
        grace_days=MAX_DAYS,
        delete_after_days=MAX_DAYS,
        max_active_days=MAX_DAYS,
    )
    world = FakeAws(
        clock=ManualClock(at), settings=Settings(policy=longest, scope=Scope(user_path="/"))
    )
    for name, age in (("new", 0), ("old", MAX_DAYS - 1), ("due", MAX_DAYS + 1)):
        world.iam.add_user(name, tags={"keyturn:managed": "true"})
        world.iam.add_key(name, age_days=age)
    world.rotator().rotate("new")
    # WHEN a plan is made at the edge, THEN no date arithmetic overflows
    run = world.rotator().plan_all(at=at)
    assert {u.user_name for u in run.users} == {"new", "old", "due"}
    world.clock.advance(days=MAX_DAYS)
    assert world.rotator().plan_all(at=at).users


def test_a_huge_username_is_not_echoed_back_whole() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_event({"action": "create", "username": 12345678901234567890 * 10**50})
    assert len(str(caught.value)) < 120
