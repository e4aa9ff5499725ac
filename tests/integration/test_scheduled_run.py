"""A scheduled run over a mixed fleet, and plan, against moto server."""

from __future__ import annotations

import pytest

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, current_secret, event, keys_of, make_user


@pytest.fixture
def fleet(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    monkeypatch.setenv("KEYTURN_USER_PATH", "/integrations/")
    # the lowest keyturn:rotate-after-days tag in use, so the credential report's horizon
    # reaches "short" (docs/configuration.md)
    monkeypatch.setenv("KEYTURN_SCAN_HORIZON_DAYS", "30")
    managed = {"keyturn:managed": "true"}
    return {
        "due": make_user(aws, "due", key_ages=(81,), path="/integrations/"),
        "fresh": make_user(aws, "fresh", key_ages=(10,), tags=managed),
        "exempt": make_user(
            aws, "exempt", key_ages=(200,), tags={**managed, "keyturn:exempt": "true"}
        ),
        "two-active": make_user(aws, "two-active", key_ages=(95, 20), tags=managed),
        "no-keys": make_user(aws, "no-keys", tags=managed),
        "outsider": make_user(aws, "outsider", key_ages=(300,)),
        "short": make_user(
            aws, "short", key_ages=(31,), tags={**managed, "keyturn:rotate-after-days": "30"}
        ),
    }


def test_scheduled_run_applies_the_policy_to_managed_users_only(
    aws: EmbeddedAws, fleet: dict[str, list[str]]
) -> None:
    response = lambda_handler(event("scheduled"), LambdaContext())
    assert response["statusCode"] == 200
    assert response["body"]["found_by"] == "credential-report"
    status = {u["UserName"]: u["status"] for u in response["body"]["users"]}
    # "fresh" (one active key of 10 days) is provably idle, and "outsider" is outside the
    # scope: the report-driven run reads neither
    assert status == {
        "due": "changed",
        "exempt": "exempt",
        "two-active": "refused",
        "no-keys": "changed",
        "short": "changed",
    }
    assert len(keys_of(aws, "due")) == 2
    assert current_secret(aws, "due")["AccessKeyId"] not in fleet["due"]
    assert keys_of(aws, "exempt") == {fleet["exempt"][0]: "Active"}
    assert set(keys_of(aws, "two-active")) == set(fleet["two-active"])
    assert keys_of(aws, "outsider") == {fleet["outsider"][0]: "Active"}
    [created] = keys_of(aws, "no-keys")
    assert current_secret(aws, "no-keys")["AccessKeyId"] == created


def test_a_second_run_the_same_day_changes_nothing(
    aws: EmbeddedAws, fleet: dict[str, list[str]]
) -> None:
    lambda_handler(event("run"), LambdaContext())
    before = {user: keys_of(aws, user) for user in fleet}
    response = lambda_handler(event("run"), LambdaContext(aws_request_id="req-0002"))
    after = {user: keys_of(aws, user) for user in fleet}
    assert after == before
    changed = [u for u in response["body"]["users"] if u["status"] == "changed"]
    assert changed == []


def test_plan_at_a_future_date_shows_the_lifecycle_and_changes_nothing(
    aws: EmbeddedAws, fleet: dict[str, list[str]]
) -> None:
    before = {user: keys_of(aws, user) for user in fleet}
    response = lambda_handler({"action": "plan", "at": "2099-01-01"}, LambdaContext())
    assert {user: keys_of(aws, user) for user in fleet} == before
    plans = {u["UserName"]: u["plan"] for u in response["body"]["users"]}
    # In 2099 the fresh key is long past the cap: it is replaced, and the plan shows it goes
    # on the floor's run, the next day (issue 10: the plan says so in advance).
    fresh = plans["fresh"]
    assert [a["action"] for a in fresh["actions"]] == ["create"]
    deactivation = fresh["upcoming"][0]
    assert deactivation["action"] == "deactivate"
    assert deactivation["at"].startswith("2099-01-02")
    assert plans["two-active"]["refusal"].startswith("two active keys")


class AlmostOutOfTime(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 5_000


def test_a_scheduled_run_near_its_timeout_defers_instead_of_starting(
    aws: EmbeddedAws, fleet: dict[str, list[str]]
) -> None:
    before = {user: keys_of(aws, user) for user in fleet}
    response = lambda_handler(event("scheduled"), AlmostOutOfTime())
    assert response["statusCode"] == 200
    status = {u["UserName"]: u["status"] for u in response["body"]["users"]}
    assert status["due"] == "deferred"
    assert "outsider" not in status  # outside the scope: not even read
    assert {user: keys_of(aws, user) for user in fleet} == before
