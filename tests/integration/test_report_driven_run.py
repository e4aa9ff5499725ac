"""The scheduled run is driven by the credential report (Lambda face, moto server).

A no-op run costs the report's calls whatever the number of users; a due user's keys are not
asked for their last use when the report already tells and no decision needs fresher data.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.iam.models import iam_backends

from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.handler import lambda_handler
from keyturn.wiring import forget_clients
from tests.integration.helpers import LambdaContext, event

NOOP_IAM_CALLS = 3


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the calls of every boto3 session the handler makes from now on."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    class Counted(boto3.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-call", count)

    monkeypatch.setattr(boto3, "Session", Counted)
    forget_clients()
    return calls


def _populate(count: int, age_days: float) -> None:
    """Managed users with one key each, straight into moto's backend (setup, not measured)."""
    backend = iam_backends[ACCOUNT_ID]["global"]
    for n in range(count):
        name = f"user{n:04d}"
        backend.create_user("us-east-1", name, "/", [{"Key": "keyturn:managed", "Value": "true"}])
        key = backend.create_access_key(name)
        key.create_date -= timedelta(days=age_days)


@pytest.mark.parametrize("users", [5, 120])
def test_a_no_op_scheduled_run_costs_at_most_three_iam_calls(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, users: int
) -> None:
    # GIVEN managed users whose keys are all young
    _populate(users, age_days=10)
    calls = _count_calls(monkeypatch)
    # WHEN the schedule fires
    response = lambda_handler(event("scheduled"), LambdaContext())
    forget_clients()
    # THEN the report alone told that nobody needs a look
    assert response["statusCode"] == 200
    assert response["body"]["found_by"] == "credential-report"
    assert response["body"]["users"] == []
    iam = sum(n for op, n in calls.items() if op.startswith("iam."))
    assert iam <= NOOP_IAM_CALLS, calls
    assert calls["secretsmanager.ListSecrets"] == 1  # the in-flight marks
    assert sum(calls.values()) == iam + 1


def test_a_due_user_is_rotated_with_the_report_s_last_use(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one managed user with one 85-day-old key among young ones
    _populate(3, age_days=10)
    backend = iam_backends[ACCOUNT_ID]["global"]
    backend.create_user("us-east-1", "due", "/", [{"Key": "keyturn:managed", "Value": "true"}])
    backend.create_access_key("due").create_date -= timedelta(days=85)
    calls = _count_calls(monkeypatch)
    # WHEN the schedule fires
    response = lambda_handler(event("scheduled"), LambdaContext())
    forget_clients()
    # THEN only the due user was looked at, and its one key's last use came from the report
    assert [(u["UserName"], u["status"]) for u in response["body"]["users"]] == [("due", "changed")]
    assert calls["iam.GetAccessKeyLastUsed"] == 0
    assert calls["iam.ListAccessKeys"] == 1
    assert calls["iam.GetUser"] + calls["iam.ListUserTags"] == 1  # one call finds the user
