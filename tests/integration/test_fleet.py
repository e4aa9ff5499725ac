"""The fleet on the emulator: Organizations, STS and SQS, the dispatcher and the worker."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto.iam.models import iam_backends

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.fleet.accounts import AccountFilter
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.settings import FleetSettings
from keyturn.fleet.worker import handle
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet

MAX_RECEIVES = 3


@dataclass
class Org:
    """An organization: root ── workloads ── prod (account prod); sandbox (account sandbox)."""

    aws: EmbeddedAws
    root: str
    workloads: str
    sandbox_ou: str
    accounts: dict[str, str]
    queue_url: str
    dlq_url: str
    queue_arn: str

    def member(self, name: str) -> boto3.Session:
        return member_session(self.aws, self.accounts[name])

    def iam(self, name: str) -> Any:
        return self.member(name).client("iam", endpoint_url=self.aws.url)

    def fleet(self, accounts: AccountFilter | None = None) -> AwsFleet:
        settings = Settings.from_env(os.environ, endpoint_url=self.aws.url, region=self.aws.region)
        fleet = FleetSettings(
            organization=True,
            accounts=accounts or AccountFilter(),
            external_id="keyturn-test-external-id",
            queue_url=self.queue_url,
        )
        return AwsFleet.from_settings(settings, fleet, session=self.aws.session())


def member_session(aws: EmbeddedAws, account_id: str) -> boto3.Session:
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/setup", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=aws.region,
    )


def new_account(org_client: Any, name: str, parent: str, root: str) -> str:
    status = org_client.create_account(AccountName=name, Email=f"{name}@example.com")
    account_id = str(status["CreateAccountStatus"]["AccountId"])
    if parent != root:
        org_client.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=parent
        )
    return account_id


@pytest.fixture
def org(aws: EmbeddedAws) -> Org:
    client = aws.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ou = client.create_organizational_unit
    workloads = ou(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    prod = ou(ParentId=workloads, Name="prod")["OrganizationalUnit"]["Id"]
    sandbox = ou(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    accounts = {
        "prod": new_account(client, "prod", prod, root),
        "sandbox": new_account(client, "sandbox", sandbox, root),
        "shared": new_account(client, "shared", root, root),
    }
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName="keyturn-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    redrive = {
        "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
        "maxReceiveCount": MAX_RECEIVES,
    }
    queue_url = sqs.create_queue(
        QueueName="keyturn-work", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    world = Org(
        aws,
        root,
        workloads,
        sandbox,
        accounts,
        queue_url,
        dlq_url,
        queue_arn["Attributes"]["QueueArn"],
    )
    for name in accounts:
        populate(world, name)
    return world


def populate(org: Org, name: str) -> None:
    """Four users per account: ``<account>-due`` has an 85-day key, and so has
    ``<account>-unmanaged``, which is out of keyturn's scope (no tag)."""
    iam = org.iam(name)
    for user in (f"{name}-fresh", f"{name}-due", f"{name}-other", f"{name}-unmanaged"):
        managed = (
            [] if user.endswith("-unmanaged") else [{"Key": "keyturn:managed", "Value": "true"}]
        )
        iam.create_user(UserName=user, Tags=managed)
        key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        if user.endswith(("-due", "-unmanaged")):
            backdate(org.accounts[name], user, key, 85)


def backdate(account_id: str, user: str, key_id: str, days: float) -> None:
    for key in iam_backends[account_id]["global"].users[user].access_keys:
        if key.access_key_id == key_id:
            key.create_date -= timedelta(days=days)


def receive(org: Org, url: str | None = None, *, hide: int = 0) -> list[dict[str, Any]]:
    answer = org.aws.client("sqs").receive_message(
        QueueUrl=url or org.queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=hide,
        AttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def sqs_event(org: Org, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": org.queue_arn,
                "awsRegion": org.aws.region,
            }
            for m in messages
        ]
    }


def deliver(org: Org, fleet: AwsFleet) -> list[str]:
    """One poll of Lambda's event source: receive, invoke, delete what succeeded.

    Returns the ids the worker reported as failed.
    """
    messages = receive(org)
    if not messages:
        return []
    response = handle(sqs_event(org, messages), None, fleet)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    sqs = org.aws.client("sqs")
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=org.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return sorted(failed)


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
