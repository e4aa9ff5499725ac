"""The fleet hub (infra/template.yaml with FleetMode=hub) and the member role, in moto.

An organization with one member account: the member roles are created there from
infra/member-role.yaml, the hub stack in the management account. The dispatcher and the
worker are then run in-process with the environment their functions were given (moto cannot
invoke Lambda), and every AWS call they make is checked against the role that makes it: hub
calls against the hub's roles, member-account calls against the member role each entered (the
dispatcher the read-only one, the worker the write-capable one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.iam.models import iam_backends

from keyturn.emulator import EmbeddedAws
from keyturn.fleet import dispatcher, worker

from .iam_audit import (
    Call,
    Recording,
    allows,
    listed,
    policy_document,
    recorded_calls,
    request_context,
)
from .stack import ACCOUNT, REGION, Deployed, deploy_fleet_hub, fleet_accounts, role_policy

EXTERNAL_ID = "keyturn-fleet-test-external-id"
HUB = {"NotificationEmail": "ops@example.com"}
IN_SCOPE = "app"  # on keyturn's path, key 85 days old
OUTSIDER = "outsider"  # not on the path, not tagged, key 85 days old
WRITER = "keyturn-member"  # the worker's member role
READER = "keyturn-member-reader"  # the dispatcher's


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "4b1c6f7e-0000-4000-8000-000000000002"


@dataclass
class Fleet:
    aws: EmbeddedAws
    hub: Deployed
    member_id: str
    member: boto3.Session
    org_id: str

    def member_client(self, service: str) -> Any:
        return self.member.client(service, endpoint_url=self.aws.url)  # type: ignore[call-overload]

    def member_role_policy(self, role_name: str = WRITER) -> dict[str, Any]:
        iam = self.member_client("iam")
        (name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        raw = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        return policy_document(raw)

    def member_trust(self, role_name: str) -> dict[str, Any]:
        role = self.member_client("iam").get_role(RoleName=role_name)["Role"]
        return policy_document(role["AssumeRolePolicyDocument"])

    def keys(self, user: str) -> list[str]:
        listed_keys = self.member_client("iam").list_access_keys(UserName=user)
        return [k["AccessKeyId"] for k in listed_keys["AccessKeyMetadata"]]


@pytest.fixture
def fleet(cloud: EmbeddedAws) -> Fleet:
    accounts = fleet_accounts(cloud, EXTERNAL_ID)
    assert accounts.member_id
    assert accounts.member
    assert accounts.org_id
    iam = accounts.member_client("iam")
    for user, path in ((IN_SCOPE, "/keyturn/"), (OUTSIDER, "/")):
        iam.create_user(UserName=user, Path=path)
        iam.create_access_key(UserName=user)
        for key in iam_backends[accounts.member_id]["global"].users[user].access_keys:
            key.create_date -= timedelta(days=85)
    iam.generate_credential_report()
    hub = deploy_fleet_hub(accounts, HUB)
    return Fleet(cloud, hub, accounts.member_id, accounts.member, accounts.org_id)


def test_the_hub_has_a_dispatcher_a_worker_and_a_queue_with_a_dead_letter_queue(
    fleet: Fleet,
) -> None:
    hub = fleet.hub
    lambda_client = hub.client("lambda")
    worker_name = hub.physical("FleetWorkerFunction")
    (mapping,) = lambda_client.list_event_source_mappings(FunctionName=worker_name)[
        "EventSourceMappings"
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 5
    concurrency = lambda_client.get_function_concurrency(FunctionName=worker_name)
    assert concurrency["ReservedConcurrentExecutions"] == 5
    dispatcher_name = hub.physical("FleetDispatcherFunction")
    assert (
        lambda_client.get_function_concurrency(FunctionName=dispatcher_name)[
            "ReservedConcurrentExecutions"
        ]
        == 1
    )
    sqs = hub.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=hub.outputs["FleetWorkQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    dead = sqs.get_queue_attributes(
        QueueUrl=hub.outputs["FleetDeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (dead, 3)
    timeout = lambda_client.get_function_configuration(FunctionName=worker_name)["Timeout"]
    assert int(attributes["VisibilityTimeout"]) >= 6 * timeout


def test_each_member_role_trusts_one_hub_role_with_the_external_id(fleet: Fleet) -> None:
    trusted = {}
    for role_name in (WRITER, READER):
        (trust,) = fleet.member_trust(role_name)["Statement"]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        assert trust["Condition"]["StringEquals"] == {"sts:ExternalId": EXTERNAL_ID}
        trusted[role_name] = trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert trusted == {
        WRITER: fleet.hub.outputs["FleetWorkerRoleArn"],
        READER: fleet.hub.outputs["FleetDispatcherRoleArn"],
    }
    hub_roles = {fleet.hub.physical("FleetDispatcherRole"), fleet.hub.physical("FleetWorkerRole")}
    assert hub_roles == {"keyturn-fleet-dispatcher", "keyturn-fleet-worker"}


def _environment(hub: Deployed, logical_id: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = hub.client("lambda").get_function_configuration(FunctionName=hub.physical(logical_id))
    for name, value in config["Environment"]["Variables"].items():
        monkeypatch.setenv(name, str(value))
    return LambdaContext(config["FunctionName"], config["FunctionArn"])


def _sqs_event(hub: Deployed) -> dict[str, Any]:
    sqs = hub.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=hub.outputs["FleetWorkQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", [])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.fixture
def played_event_source(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test plays Lambda's SQS event source itself: moto's own would try to run the
    worker in docker for every message sent. A fresh worker module, too (it caches its fleet)."""
    lambda_client = fleet.hub.client("lambda")
    worker_name = fleet.hub.physical("FleetWorkerFunction")
    for mapping in lambda_client.list_event_source_mappings(FunctionName=worker_name)[
        "EventSourceMappings"
    ]:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    monkeypatch.setattr(worker, "_fleet", None)


def test_dispatch_and_work_rotate_the_member_user_with_allowed_calls_only(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, played_event_source: None
) -> None:
    hub = fleet.hub
    (old_key,) = fleet.keys(IN_SCOPE)
    outsider_keys = fleet.keys(OUTSIDER)
    # WHEN the dispatcher runs on its schedule
    context = _environment(hub, "FleetDispatcherFunction", monkeypatch)
    with recorded_calls(monkeypatch) as dispatched:
        answer = dispatcher.lambda_handler({}, context)
    # THEN it enqueued the member's user in scope, and only it
    # (Organizations lists accounts in no promised order; the member's id is random.)
    assert sorted(answer["accounts"], key=lambda a: a["account_id"] != ACCOUNT) == [
        {"account_id": ACCOUNT, "enqueued": 0, "mode": "act", "error": None},
        {"account_id": fleet.member_id, "enqueued": 1, "mode": "act", "error": None},
    ]
    event = _sqs_event(hub)
    assert [json.loads(r["body"])["user_name"] for r in event["Records"]] == [IN_SCOPE]
    # WHEN the worker gets the message
    context = _environment(hub, "FleetWorkerFunction", monkeypatch)
    with recorded_calls(monkeypatch) as worked:
        response = worker.lambda_handler(event, context)
    # THEN the user has a new key stored in its account's secret, the outsider is untouched
    assert response == {"batchItemFailures": []}
    assert old_key in fleet.keys(IN_SCOPE)
    assert len(fleet.keys(IN_SCOPE)) == 2
    secret = fleet.member_client("secretsmanager").describe_secret(SecretId=f"keyturn/{IN_SCOPE}")
    assert secret["Name"] == f"keyturn/{IN_SCOPE}"
    assert fleet.keys(OUTSIDER) == outsider_keys
    assert fleet.aws.sent_notifications(hub.outputs["TopicArn"])
    # ... and every call was allowed by the role that made it
    assert _denied(fleet, dispatched, "FleetDispatcherRole", READER) == []
    assert _denied(fleet, worked, "FleetWorkerRole", WRITER) == []
    entered = {
        (call.params["RoleArn"].rsplit("/", 1)[1], label)
        for label, recording in (("dispatcher", dispatched), ("worker", worked))
        for call in recording.calls
        if call.action == "sts:AssumeRole"
    }
    assert entered == {(READER, "dispatcher"), (WRITER, "worker")}
    actions = {c.action for c in dispatched.calls + worked.calls}
    assert {"iam:GetCredentialReport", "iam:CreateAccessKey", "sqs:SendMessageBatch"} <= actions


SQS_ACTIONS = {"SendMessageBatch": "SendMessage"}


def _denied(
    fleet: Fleet, recording: Recording, hub_role: str, member_role: str
) -> list[tuple[str, str]]:
    """The calls the role making them does not allow. Every account here is in the
    organization, which AWS tells an AssumeRole's policy as aws:ResourceOrgID."""
    hub_policy = role_policy(fleet.aws, fleet.hub.physical(hub_role))
    member_policy = fleet.member_role_policy(member_role)
    denied = []
    for call in recording.calls:
        action = f"{call.service}:{SQS_ACTIONS.get(call.operation, call.operation)}"
        resource = _resource(fleet, recording, call)
        if resource is None:
            continue
        member_side = call.service in {"iam", "secretsmanager"}
        policy = member_policy if member_side else hub_policy
        context = request_context(call)
        if call.action == "sts:AssumeRole":
            context["aws:ResourceOrgID"] = fleet.org_id
        if not allows(policy, action, resource, context=context):
            denied.append((action, resource))
    return denied


def _resource(fleet: Fleet, recording: Recording, call: Call) -> str | None:  # noqa: PLR0911
    """The ARN IAM authorises ``call`` against; None for calls that need no permission."""
    params = call.params
    if call.action == "sts:GetCallerIdentity":
        return None
    if call.action == "sts:AssumeRole":
        return str(params["RoleArn"])
    if call.service == "sqs":
        return str(
            fleet.hub.client("sqs").get_queue_attributes(
                QueueUrl=params["QueueUrl"], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        )
    if call.service == "sns":
        return str(params["TopicArn"])
    if call.service == "iam":
        user = params.get("UserName") or recording.key_owner.get(params.get("AccessKeyId", ""))
        if user is None:
            return "*"
        return str(fleet.member_client("iam").get_user(UserName=user)["User"]["Arn"])
    if call.service == "secretsmanager":
        name = params.get("SecretId") or params.get("Name")
        if name is None:
            return "*"  # ListSecrets
        return f"arn:aws:secretsmanager:{REGION}:{fleet.member_id}:secret:{name}-AbCdEf"
    return "*"  # organizations: listing calls take no resource


def test_the_member_role_writes_nothing_on_star(fleet: Fleet) -> None:
    statements = fleet.member_role_policy()["Statement"]
    on_star = {a for s in statements if s["Resource"] == "*" for a in listed(s["Action"])}
    assert on_star == {
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "secretsmanager:ListSecrets",
    }
    policy = fleet.member_role_policy()
    user = f"arn:aws:iam::{fleet.member_id}:user"
    assert allows(policy, "iam:CreateAccessKey", f"{user}/keyturn/{IN_SCOPE}")
    assert not allows(policy, "iam:CreateAccessKey", f"{user}/{OUTSIDER}")
    assert not allows(policy, "iam:DeleteAccessKey", f"{user}/admin")
