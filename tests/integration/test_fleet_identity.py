"""The fleet asks STS nothing it already knows: a member role's clients know who they are from
AssumeRole's answer, and the hub's own account comes from its Lambda function's ARN."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import pytest

from keyturn.aws.session import AwsClients
from keyturn.emulator import ACCOUNT_ID
from keyturn.emulator.calls import CallCounter
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.settings import DEFAULT_MEMBER_ROLE, FleetSettings
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet, function_account
from tests.integration.fleet_world import Org, build_org, deliver
from tests.integration.helpers import LambdaContext

IDENTITY = "sts.GetCallerIdentity"


@pytest.fixture
def member_calls(monkeypatch: pytest.MonkeyPatch) -> CallCounter:
    """The calls made on every member role's clients (not the key proof's own sessions)."""
    counter = CallCounter()
    assume = AwsClients.assume_role

    def counted(self: AwsClients, *args: Any, **kwargs: Any) -> tuple[AwsClients, datetime]:
        clients, expires = assume(self, *args, **kwargs)
        counter.attach(clients.session)
        return clients, expires

    monkeypatch.setattr(AwsClients, "assume_role", counted)
    return counter


def test_the_fleet_runs_without_asking_sts_who_it_is(aws: Any, member_calls: CallCounter) -> None:
    # GIVEN an organization whose accounts each hold a due user
    org: Org = build_org(aws)
    fleet = org.fleet()
    hub = CallCounter().attach(fleet.hub.session)
    # WHEN the dispatcher and the worker run
    dispatch(fleet, "run-identity")
    assert deliver(org, fleet) == []
    # THEN the users were rotated with no GetCallerIdentity in the hub or any member role
    assert member_calls.calls["iam.CreateAccessKey"] == 3
    assert hub.calls[IDENTITY] == 0
    assert member_calls.calls[IDENTITY] == 0
    # AND each secret's policy still names the member role as keyturn's principal
    secrets = org.member("prod").client("secretsmanager", endpoint_url=org.aws.url)
    policy = secrets.get_resource_policy(SecretId="keyturn/prod-due")["ResourcePolicy"]
    role = f"arn:aws:iam::{org.accounts['prod']}:role/{DEFAULT_MEMBER_ROLE}"
    assert role in json.dumps(json.loads(policy))


def test_the_hub_account_comes_from_the_functions_arn(aws: Any, member_calls: CallCounter) -> None:
    # GIVEN the fleet functions without an organization: the hub's own account only
    settings = Settings.from_env(os.environ, endpoint_url=aws.url, region=aws.region)
    fleet = AwsFleet.from_settings(
        settings,
        FleetSettings(enter_own_account=True),
        session=aws.session(),
        account_id=function_account(LambdaContext()),
    )
    hub = CallCounter().attach(fleet.hub.session)
    # WHEN the worker's fleet lists its accounts and enters the own one
    assert fleet.account_ids() == [ACCOUNT_ID]
    run = fleet.account(ACCOUNT_ID)
    # THEN neither the hub nor the member role asked STS who they are
    assert run.clients.caller_arn().endswith(f":assumed-role/{DEFAULT_MEMBER_ROLE}/keyturn-fleet")
    assert run.clients.account_id() == ACCOUNT_ID
    assert hub.calls[IDENTITY] == 0
    assert member_calls.calls[IDENTITY] == 0
