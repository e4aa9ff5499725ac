"""T5: an insider with ``sqs:SendMessage`` on the hub's work queue forges fleet messages.

A message is a claim, not an order. The worker re-checks its account against the organization
and the include/exclude rules, and its ids against whole-string ASCII patterns. A message for an
account the fleet does not cover is acknowledged and audited (no retry could make it valid);
a malformed one fails as poison and ends in the dead-letter queue. Either way nothing changes in
any account.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.fleet.accounts import AccountFilter
from tests.integration.fleet_world import (
    MAX_RECEIVES,
    Org,
    backdate,
    build_org,
    deliver,
    member_session,
    receive,
)

OUTSIDER = "210987654321"
"""An account that is not in the organization (the insider's own, say)."""


@pytest.fixture
def org(aws: EmbeddedAws) -> Org:
    return build_org(aws)


def account_state(org: Org, account_id: str) -> dict[str, Any]:
    """Users, their keys and statuses, and secrets with their versions, in one account."""
    session = member_session(org.aws, account_id)
    iam = session.client("iam", endpoint_url=org.aws.url)
    sm = session.client("secretsmanager", endpoint_url=org.aws.url)
    users = {
        u["UserName"]: sorted(
            (k["AccessKeyId"], k["Status"])
            for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
        )
        for u in iam.list_users()["Users"]
    }
    secrets = {
        s["Name"]: sorted(
            (v["VersionId"], tuple(v.get("VersionStages", [])))
            for v in sm.list_secret_version_ids(SecretId=s["ARN"])["Versions"]
        )
        for s in sm.list_secrets()["SecretList"]
    }
    return {"users": users, "secrets": secrets}


def every_account(org: Org) -> dict[str, Any]:
    accounts = [ACCOUNT_ID, *org.accounts.values(), OUTSIDER]
    return {account: account_state(org, account) for account in accounts}


def forge(org: Org, body: dict[str, Any] | str) -> None:
    """What the insider does: one SendMessage with a body of their choosing."""
    text = body if isinstance(body, str) else json.dumps(body)
    org.aws.client("sqs").send_message(QueueUrl=org.queue_url, MessageBody=text)


def add_outsider_victim(org: Org) -> None:
    """A managed user with a due key in an account outside the organization."""
    iam = member_session(org.aws, OUTSIDER).client("iam", endpoint_url=org.aws.url)
    iam.create_user(UserName="victim", Tags=[{"Key": "keyturn:managed", "Value": "true"}])
    key = iam.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
    backdate(OUTSIDER, "victim", key, 85)


def refusals(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (str(getattr(r, "account", "")), str(getattr(r, "user", "")))
        for r in caplog.records
        if r.name == "keyturn.audit" and getattr(r, "outcome", None) == "refused"
    ]


@pytest.mark.attack("T5: forged fleet message for an excluded account")
@pytest.mark.parametrize(
    "rule",
    ["exclude the account", "exclude its OU", "include only another account"],
)
def test_a_forged_message_for_an_excluded_account_is_refused(
    org: Org, rule: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a fleet whose rules leave out account prod, where prod-due has an 85-day key
    rules = {
        "exclude the account": AccountFilter(exclude_accounts=frozenset({org.accounts["prod"]})),
        "exclude its OU": AccountFilter(exclude_ous=frozenset({org.workloads})),
        "include only another account": AccountFilter(
            include_accounts=frozenset({org.accounts["shared"]})
        ),
    }[rule]
    fleet = org.fleet(rules)
    assert org.accounts["prod"] not in fleet.account_ids()
    before = every_account(org)
    # WHEN the insider enqueues a message for prod-due, as the dispatcher would have
    forge(org, {"account_id": org.accounts["prod"], "user_name": "prod-due", "run_id": "x"})
    caplog.set_level(logging.INFO, logger="keyturn.audit")
    failed = deliver(org, fleet)
    # THEN the message is acknowledged, not retried, and audited as refused ...
    assert failed == []
    assert receive(org) == []
    assert receive(org, org.dlq_url) == []
    assert refusals(caplog) == [(org.accounts["prod"], "prod-due")]
    # ... and nothing changed in any account
    assert every_account(org) == before


@pytest.mark.attack("T5: forged fleet message for an account outside the organization")
def test_a_forged_message_for_an_account_outside_the_organization_is_refused(
    org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a managed user with a due key in an account the organization does not hold
    add_outsider_victim(org)
    fleet = org.fleet()
    assert OUTSIDER not in fleet.account_ids()
    before = every_account(org)
    # WHEN the insider enqueues a message for it, beside a genuine one
    forge(org, {"account_id": OUTSIDER, "user_name": "victim", "run_id": "x"})
    forge(org, {"account_id": org.accounts["shared"], "user_name": "shared-due", "run_id": "x"})
    caplog.set_level(logging.INFO, logger="keyturn.audit")
    failed = deliver(org, fleet)
    # THEN the forged message is refused and acknowledged, the genuine one is worked
    assert failed == []
    assert receive(org) == []
    assert refusals(caplog) == [(OUTSIDER, "victim")]
    after = every_account(org)
    assert after[OUTSIDER] == before[OUTSIDER]
    assert len(after[org.accounts["shared"]]["users"]["shared-due"]) == 2
    del after[org.accounts["shared"]], before[org.accounts["shared"]]
    assert after == before


@pytest.mark.attack("T5: fleet message with an id the old patterns let through")
@pytest.mark.parametrize(
    ("account", "user"),
    [
        ("{sandbox}\n", "sandbox-due"),  # re.match with $ accepted a trailing newline
        ("\uff11" * 12, "sandbox-due"),  # fullwidth digits are Unicode \d
        ("\u0661" * 12, "sandbox-due"),  # Arabic-Indic digits, too
        ("{sandbox}", "sandbox-due\n"),
        ("{sandbox}", "sandbox-du\u00e9"),  # \w is Unicode; IAM names are ASCII
    ],
    ids=["trailing-newline", "fullwidth-digits", "arabic-digits", "name-newline", "name-accent"],
)
def test_a_message_with_a_malformed_id_is_poison_and_changes_nothing(
    org: Org, account: str, user: str
) -> None:
    # GIVEN a fleet that covers every account
    fleet = org.fleet()
    before = every_account(org)
    # WHEN the insider enqueues a message whose ids only look like an account and a user
    body = {"account_id": account.format(**org.accounts), "user_name": user, "run_id": "x"}
    forge(org, body)
    # THEN it fails on every receive and ends in the dead-letter queue ...
    failures = [deliver(org, fleet) for _ in range(MAX_RECEIVES + 1)]
    assert [len(f) for f in failures] == [1] * MAX_RECEIVES + [0]
    assert [json.loads(m["Body"]) for m in receive(org, org.dlq_url)] == [body]
    # ... and nothing changed in any account
    assert every_account(org) == before
