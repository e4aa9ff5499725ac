"""The fleet's CloudFormation: the hub (infra/fleet.yaml) and the member role StackSet template.

cfn-lint must be silent on both; the properties the fan-out's safety rests on are checked one by
one, and no key action is ever granted on every user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "infra" / "fleet.yaml"
MEMBER = ROOT / "infra" / "member-role.yaml"
KEY_ACTIONS = {"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"}


def load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            found.append(statement["Fn::If"][1] if "Fn::If" in statement else statement)
    return found


def test_cfn_lint_finds_nothing() -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    command = [str(lint), str(HUB), str(MEMBER)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert (done.returncode, done.stdout) == (0, "")


def test_the_worker_reports_partial_failures_under_reserved_concurrency() -> None:
    resources = load(HUB)["Resources"]
    worker = resources["WorkerFunction"]["Properties"]
    assert worker["Handler"] == "keyturn.fleet.worker.lambda_handler"
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerConcurrency"}
    source = worker["Events"]["Work"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    queue = resources["WorkQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    dispatcher = resources["DispatcherFunction"]["Properties"]
    assert dispatcher["Handler"] == "keyturn.fleet.dispatcher.lambda_handler"
    assert dispatcher["ReservedConcurrentExecutions"] == 1
    assert "DeadLetterAlarm" in resources


@pytest.mark.parametrize("role", ["DispatcherRole", "WorkerRole"])
def test_hub_roles_enter_accounts_only_through_the_member_role(role: str) -> None:
    granted = statements(load(HUB)["Resources"][role])
    assumes = [s for s in granted if s["Action"] == "sts:AssumeRole"]
    assert [s["Resource"] for s in assumes] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    ]
    assert not any(str(s["Action"]).startswith("iam:") for s in granted)


def test_the_member_role_trusts_the_hub_roles_by_external_id() -> None:
    role = load(MEMBER)["Resources"]["MemberRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    assert "HubRoleNamePattern" in str(trust["Condition"]["ArnLike"])
    assert load(MEMBER)["Parameters"]["ExternalId"]["NoEcho"] is True


def test_the_member_role_never_grants_key_actions_on_every_user() -> None:
    role = load(MEMBER)["Resources"]["MemberRole"]
    for statement in statements(role):
        actions = statement["Action"]
        actions = set(actions if isinstance(actions, list) else [actions])
        if actions & KEY_ACTIONS:
            resource = str(statement["Resource"])
            assert "${UserPath}" in resource or "Condition" in statement, statement["Sid"]
        if statement["Resource"] == "*":
            assert all(a.split(":")[1].startswith(("Get", "List", "Generate")) for a in actions)
