"""The fleet hub works in its own account, with the deployed roles' statements enforced.

The hub stack (infra/template.yaml, FleetMode=hub) is created in moto's default account and
infra/member-role.yaml both in a member account and in the hub account itself, as
docs/fleet.md says to deploy it. The dispatcher and the worker then run in-process with
their functions' environment and their execution roles' credentials, and every call they
make, in the hub and through each member role, is allowed or denied by that role's deployed
policy (:mod:`tests.infra.enforced_roles`): a call the roles do not allow fails as in AWS.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from moto.iam.models import iam_backends

from keyturn.emulator import EmbeddedAws
from keyturn.errors import AwsError
from keyturn.fleet import dispatcher, worker
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.settings import FleetSettings
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet
from tests.integration.fleet_world import member_session

from .enforced_roles import Enforcer, assume, enforced_roles
from .stack import ACCOUNT, REGION, Deployed, deploy_fleet_hub, fleet_accounts

EXTERNAL_ID = "keyturn-hub-account-external-id"
BUS = "keyturn-events"
DUE = "app"  # on keyturn's path, key 85 days old: rotated
TWIN = "twin"  # on keyturn's path, two active keys: refused, in every account
WRITER, READER = "keyturn-member", "keyturn-member-reader"


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "4b1c6f7e-0000-4000-8000-000000000003"


def _users(account_id: str, iam: Any) -> None:
    """``app`` with one 85-day key, ``twin`` with two active 85-day keys."""
    for user in (DUE, TWIN):
        iam.create_user(UserName=user, Path="/keyturn/")
        iam.create_access_key(UserName=user)
    iam.create_access_key(UserName=TWIN)
    for user in (DUE, TWIN):
        for key in iam_backends[account_id]["global"].users[user].access_keys:
            key.create_date -= timedelta(days=85)


@dataclass
class Hub:
    aws: EmbeddedAws
    stack: Deployed
    accounts: list[str]
    """The accounts the fleet covers, the hub's first."""
    enforcer: Enforcer

    def iam(self, account_id: str) -> Any:
        if account_id == ACCOUNT:
            return self.aws.client("iam")
        return member_session(self.aws, account_id).client("iam", endpoint_url=self.aws.url)

    def keys(self, account_id: str, user: str) -> list[str]:
        listed = self.iam(account_id).list_access_keys(UserName=user)["AccessKeyMetadata"]
        return sorted(k["AccessKeyId"] for k in listed)

    def run_as(
        self, logical_id: str, role_logical_id: str, monkeypatch: pytest.MonkeyPatch
    ) -> LambdaContext:
        """The function's environment and its execution role's credentials, as Lambda gives
        them."""
        lambda_client = self.aws.client("lambda")
        name = self.stack.physical(logical_id)
        config = lambda_client.get_function_configuration(FunctionName=name)
        for key, value in config["Environment"]["Variables"].items():
            monkeypatch.setenv(key, str(value))
        role_arn = self.stack.outputs[f"{role_logical_id}Arn"]
        creds = assume(self.aws.client("sts"), role_arn, self.enforcer, logical_id)
        for key, value in creds.items():
            monkeypatch.setenv(key, value)
        return LambdaContext(config["FunctionName"], config["FunctionArn"])


def _hub(aws: EmbeddedAws, *, organization: bool, hub_member_roles: bool = True) -> Hub:
    parameters = {
        "NotificationEmail": "ops@example.com",
        "EventBusName": BUS,
        "FleetUseOrganization": str(organization).lower(),
    }
    fleet = fleet_accounts(
        aws, EXTERNAL_ID, organization=organization, hub_member_roles=hub_member_roles
    )
    enforcer = Enforcer()
    if fleet.member_id is not None:
        _users(fleet.member_id, fleet.member_client("iam"))
        enforcer = Enforcer(frozenset(fleet.accounts), fleet.org_id or "")
    _users(ACCOUNT, aws.client("iam"))
    aws.client("events").create_event_bus(Name=BUS)
    stack = deploy_fleet_hub(fleet, parameters)
    _stop_event_source(aws, stack)
    return Hub(aws, stack, fleet.accounts, enforcer)


def _stop_event_source(aws: EmbeddedAws, stack: Deployed) -> None:
    """The test plays Lambda's SQS event source: moto's would run the worker in docker."""
    lambda_client = aws.client("lambda")
    name = stack.physical("FleetWorkerFunction")
    for mapping in lambda_client.list_event_source_mappings(FunctionName=name)[
        "EventSourceMappings"
    ]:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def _sqs_event(hub: Hub) -> dict[str, Any]:
    sqs = hub.aws.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=hub.stack.outputs["FleetWorkQueueUrl"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=60,
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
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:work",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.fixture
def fresh_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_fleet", None)  # it caches its fleet per container


def _dispatch_and_work(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], dict[str, Any]]:
    context = hub.run_as("FleetDispatcherFunction", "FleetDispatcherRole", monkeypatch)
    with enforced_roles(monkeypatch, hub.enforcer):
        dispatched = dispatcher.lambda_handler({}, context)
    context = hub.run_as("FleetWorkerFunction", "FleetWorkerRole", monkeypatch)
    event = _sqs_event(hub)
    with enforced_roles(monkeypatch, hub.enforcer):
        worked = worker.lambda_handler(event, context)
    return dispatched, {**worked, "records": len(event["Records"])}


def _rotated_and_refused_in_every_account(hub: Hub, before: dict[str, list[str]]) -> None:
    """THEN in every account the due user has a second key, the twin is untouched, and each
    refusal, event and entered role names its own account."""
    for account_id in hub.accounts:
        assert len(hub.keys(account_id, DUE)) == 2, account_id
        assert hub.keys(account_id, TWIN) == before[account_id]
    refused = [
        n.subject
        for n in hub.aws.sent_notifications(hub.stack.outputs["TopicArn"])
        if "refused" in n.subject
    ]
    assert sorted(refused) == sorted(
        f"keyturn [{a}]: refused to rotate {TWIN}'s key" for a in hub.accounts
    )
    events = [
        json.loads(entry["Detail"])
        for call in hub.enforcer.calls_by("keyturn-fleet-worker")
        if call.action == "events:PutEvents"
        for entry in call.params["Entries"]
    ]
    assert {(e["AccountId"], e["Event"]) for e in events} == {
        (a, kind) for a in hub.accounts for kind in ("rotated", "refused")
    }
    entered = {
        (call.params["RoleArn"].split(":")[4], call.params["RoleArn"].rsplit("/", 1)[1], role)
        for role in ("keyturn-fleet-dispatcher", "keyturn-fleet-worker")
        for call in hub.enforcer.calls_by(role)
        if call.action == "sts:AssumeRole"
    }
    assert entered == {
        (a, member, hub_role)
        for a in hub.accounts
        for member, hub_role in (
            (READER, "keyturn-fleet-dispatcher"),
            (WRITER, "keyturn-fleet-worker"),
        )
    }


@pytest.mark.parametrize("organization", [True, False], ids=["organization", "own-account"])
def test_the_hub_rotates_in_its_own_account_with_its_roles_enforced(
    cloud: EmbeddedAws,
    monkeypatch: pytest.MonkeyPatch,
    fresh_worker: None,
    capfd: pytest.CaptureFixture[str],
    organization: bool,
) -> None:
    # GIVEN a hub whose own account has the member roles and users, like the member account
    hub = _hub(cloud, organization=organization)
    before = {a: hub.keys(a, TWIN) for a in hub.accounts}
    # WHEN the dispatcher and then the worker run with their deployed roles enforced
    dispatched, worked = _dispatch_and_work(hub, monkeypatch)
    # THEN nothing was denied, and every account was dispatched and worked without error
    assert hub.enforcer.denied == []
    assert sorted(dispatched["accounts"], key=lambda a: hub.accounts.index(a["account_id"])) == [
        {"account_id": a, "enqueued": 2, "mode": "act", "error": None} for a in hub.accounts
    ]
    assert worked == {"batchItemFailures": [], "records": 2 * len(hub.accounts)}
    _rotated_and_refused_in_every_account(hub, before)
    # ... and the worker's metrics count the refusals per account for the fleet's alarm
    blobs = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    per_account = {b["account"] for b in blobs if "account" in b and "RotationsRefused" in b}
    assert per_account == set(hub.accounts)
    (total,) = [b for b in blobs if b.get("service") == "keyturn-worker" and "account" not in b]
    assert sum(total["RotationsRefused"]) == len(hub.accounts)
    assert sum(total["KeysRotated"]) == len(hub.accounts)
    # ... and the dispatcher's success is the hub's scheduled run, for the silence alarm
    (dispatched_blob,) = [b for b in blobs if b.get("service") == "keyturn-dispatcher"]
    assert dispatched_blob["RunsSucceeded"] == [1.0]
    assert dispatched_blob["AccountsFailed"] == [0.0]
    # ... which is what the fleet's alarms watch
    alarms = hub.aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    watched = {
        (a["MetricName"], tuple((d["Name"], d["Value"]) for d in a["Dimensions"]))
        for a in alarms
        if a["Namespace"] == "keyturn"
    }
    for name in ("RotationsRefused", "RotationsFailed", "FleetMessagesRefused"):
        assert (name, (("service", "keyturn-worker"),)) in watched
    assert ("RunsSucceeded", (("service", "keyturn-dispatcher"),)) in watched
    # ... and the rotation function's own schedules leave the hub account to the fleet
    events = hub.aws.client("events")
    for rule in ("RotationFunctionDailyRun", "RotationFunctionHourlyRetire"):
        assert events.describe_rule(Name=hub.stack.physical(rule))["State"] == "DISABLED"


def test_the_hub_account_is_denied_to_the_hub_roles_themselves_and_without_its_member_role(
    cloud: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a hub without Organizations whose account lacks the member roles
    hub = _hub(cloud, organization=False, hub_member_roles=False)
    context = hub.run_as("FleetDispatcherFunction", "FleetDispatcherRole", monkeypatch)
    # WHEN the fleet works there with the dispatcher's own role (keyturn before the fix)
    with enforced_roles(monkeypatch, hub.enforcer):
        settings, fleet = Settings.from_env(os.environ), FleetSettings.from_env(os.environ)
        result = dispatch(AwsFleet.from_settings(settings, fleet), "run")
    # THEN the role's first IAM call is denied: it holds no IAM right
    (failed,) = result.failed
    assert failed.error is not None
    assert "AccessDenied" in str(failed.error)
    assert {action for _, action, _ in hub.enforcer.denied} == {
        "iam:GenerateCredentialReport",
    }
    hub.enforcer.decisions.clear()
    # WHEN the dispatcher enters through the member role, which is not deployed there
    with enforced_roles(monkeypatch, hub.enforcer), pytest.raises(AwsError, match="AssumeRole"):
        dispatcher.lambda_handler({}, context)
    # THEN entering is denied, the run raises, and nothing changed
    assert set(hub.enforcer.denied) == {
        ("keyturn-fleet-dispatcher", "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/{READER}")
    }
    assert len(hub.keys(ACCOUNT, DUE)) == 1
