"""The fleet on the emulator: Organizations, STS and SQS, the dispatcher and the worker."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.fleet.accounts import AccountFilter
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.messages import WorkItem
from tests.integration.fleet_world import MAX_RECEIVES, Org, build_org, deliver, receive


@pytest.fixture
def org(aws: EmbeddedAws) -> Org:
    return build_org(aws)


def bodies(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    items = [WorkItem.from_body(m["Body"]) for m in messages]
    return sorted((i.account_id, i.user_name) for i in items)


def test_the_dispatcher_enqueues_one_message_per_due_user_in_every_account(org: Org) -> None:
    result = dispatch(org.fleet(), "run-1")
    assert result.failed == ()
    queued = []
    while batch := receive(org, hide=60):
        queued.extend(batch)
    expected = [(org.accounts[n], f"{n}-due") for n in ("prod", "sandbox", "shared")]
    # the management account has no users, and the unmanaged users are out of scope
    assert bodies(queued) == sorted(expected)
    assert {json.loads(m["Body"])["run_id"] for m in queued} == {"run-1"}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (AccountFilter(include_ous=frozenset({"workloads"})), ["prod"]),
        (
            AccountFilter(exclude_ous=frozenset({"workloads", "sandbox-ou"})),
            ["management", "shared"],
        ),
        (AccountFilter(include_accounts=frozenset({"sandbox"})), ["sandbox"]),
        (
            AccountFilter(
                include_ous=frozenset({"workloads", "sandbox-ou"}),
                exclude_accounts=frozenset({"prod"}),
            ),
            ["sandbox"],
        ),
    ],
)
def test_accounts_are_chosen_by_id_and_by_ou_nested_ones_included(
    org: Org, rules: AccountFilter, expected: list[str]
) -> None:
    accounts = {"management": "123456789012", **org.accounts}
    names = {"workloads": org.workloads, "sandbox-ou": org.sandbox_ou, **accounts}
    resolved = AccountFilter(
        **{field: frozenset(names[n] for n in getattr(rules, field)) for field in vars(rules)}
    )
    assert org.fleet(resolved).account_ids() == sorted(accounts[n] for n in expected)


def test_the_worker_rotates_each_user_and_the_queue_drains(org: Org) -> None:
    fleet = org.fleet()
    dispatch(fleet, "run-2")
    assert deliver(org, fleet) == []
    assert receive(org) == []
    for name in ("prod", "sandbox", "shared"):
        keys = org.iam(name).list_access_keys(UserName=f"{name}-due")["AccessKeyMetadata"]
        assert len(keys) == 2
        fresh = org.iam(name).list_access_keys(UserName=f"{name}-fresh")["AccessKeyMetadata"]
        assert len(fresh) == 1
    secret = org.member("prod").client("secretsmanager", endpoint_url=org.aws.url)
    assert secret.describe_secret(SecretId="keyturn/prod-due")["Name"] == "keyturn/prod-due"


def test_a_duplicated_message_does_no_harm(org: Org) -> None:
    fleet = org.fleet()
    item = WorkItem(org.accounts["prod"], "prod-due", "run-3")
    sqs = org.aws.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=org.queue_url, MessageBody=item.to_body())
    while receive_count := deliver(org, fleet):
        assert receive_count == []
    keys = org.iam("prod").list_access_keys(UserName="prod-due")["AccessKeyMetadata"]
    assert len(keys) == 2
    assert all(k["Status"] == "Active" for k in keys)
    secret = org.member("prod").client("secretsmanager", endpoint_url=org.aws.url)
    versions = secret.list_secret_version_ids(SecretId="keyturn/prod-due")["Versions"]
    assert len(versions) == 1


def test_a_poison_message_fails_alone_and_ends_in_the_dead_letter_queue(org: Org) -> None:
    fleet = org.fleet()
    sqs = org.aws.client("sqs")
    sqs.send_message(QueueUrl=org.queue_url, MessageBody="{not json")
    good = WorkItem(org.accounts["shared"], "shared-due", "run-4")
    sqs.send_message(QueueUrl=org.queue_url, MessageBody=good.to_body())
    failures = [deliver(org, fleet) for _ in range(MAX_RECEIVES + 2)]
    # the poison message failed on each of its receives, the good one never
    assert [len(f) for f in failures[:MAX_RECEIVES]] == [1] * MAX_RECEIVES
    assert failures[MAX_RECEIVES:] == [[], []]
    assert receive(org) == []
    dead = receive(org, org.dlq_url)
    assert [m["Body"] for m in dead] == ["{not json"]
    keys = org.iam("shared").list_access_keys(UserName="shared-due")["AccessKeyMetadata"]
    assert len(keys) == 2


def test_the_key_age_report_covers_every_account(org: Org, tmp_path: Path) -> None:
    rows_file = tmp_path / "keys.csv"
    done = CliRunner().invoke(cli, ["report", "--organization", "--csv", str(rows_file)])
    assert done.exit_code == 0, done.output
    with rows_file.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_account = {(r["account"], r["user"]) for r in rows}
    assert by_account == {
        (org.accounts[name], f"{name}-{kind}")
        for name in ("prod", "sandbox", "shared")
        for kind in ("fresh", "due", "other", "unmanaged")
    }
    assert {r["user"] for r in rows if r["overdue"] == "yes"} == set()
    now = datetime.now(UTC)
    due_now = {
        r["user"]
        for r in rows
        if r["next_when"] and datetime.fromisoformat(r["next_when"]) - now < timedelta(hours=1)
    }
    assert {r["user"] for r in rows if r["next_action"] == "none (unmanaged)"} == {
        "prod-unmanaged",
        "sandbox-unmanaged",
        "shared-unmanaged",
    }
    assert due_now == {
        "prod-due",
        "sandbox-due",
        "shared-due",
    }
