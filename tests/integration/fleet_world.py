"""An organization on the emulator for fleet tests: accounts in OUs, users in each, the queues.

``build_org`` makes the world; ``deliver`` plays one poll of Lambda's SQS event source.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
from moto.iam.models import iam_backends

from keyturn.emulator import EmbeddedAws
from keyturn.fleet.accounts import AccountFilter
from keyturn.fleet.settings import FleetSettings
from keyturn.fleet.worker import handle
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet
from tests import sdk

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
    """A session in ``account_id`` (moto's assumed-role credentials), for arranging and
    inspecting that account; never keyturn's own."""
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/setup", RoleSessionName="setup"
    )["Credentials"]
    return sdk.session(
        creds["AccessKeyId"], creds["SecretAccessKey"], aws.region, creds["SessionToken"]
    )


def new_account(org_client: Any, name: str, parent: str, root: str) -> str:
    status = org_client.create_account(AccountName=name, Email=f"{name}@example.com")
    account_id = str(status["CreateAccountStatus"]["AccountId"])
    if parent != root:
        org_client.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=parent
        )
    return account_id


def build_org(aws: EmbeddedAws) -> Org:
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
