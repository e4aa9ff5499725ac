"""The auditor role (AuditorPrincipalArn) runs ``scan``, ``plan`` and ``report``, reading no
secret value.

The stack is deployed into moto with an auditor; its role's actions are then given to an IAM
user, and the three commands run with that user's key while moto enforces authentication and
identity policies (real HTTP, real signing). moto authorises every request against resource
"*", so the user's copy opens each statement's resource to "*": moto enforces the role's
actions (and its Deny), and each recorded call is put to the repo's policy evaluator against
the role's real policy for the resource scoping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from tests.infra.iam_audit import Recording, allows, recorded_calls
from tests.infra.stack import Deployed, deploy_keyturn, role_policy
from tests.integration.authed_aws import authenticated
from tests.integration.helpers import make_user

ACCOUNT = "123456789012"
PARAMETERS = {
    "AuditorPrincipalArn": f"arn:aws:iam::{ACCOUNT}:root",
    "ManageTaggedUsers": "true",
}


@pytest.fixture
def audited(cloud: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A deployed stack, a rotated user, a user whose secret predates the mirror, and the key
    of an IAM user holding exactly the auditor role's policy, with authentication enforced."""
    stack: Deployed = deploy_keyturn(cloud, "keyturn", PARAMETERS)
    policy = role_policy(cloud, stack.physical("AuditorRole"))
    managed = {"keyturn:managed": "true"}
    make_user(cloud, "app", key_ages=(85,), tags=managed)
    make_user(cloud, "legacy", key_ages=(85,), tags=managed)
    runner = CliRunner()
    base = ["--endpoint-url", cloud.url, "--region", cloud.region]
    monkeypatch.setenv("KEYTURN_MANAGE_TAGGED", "true")
    assert runner.invoke(cli, [*base, "run", "--listing"]).exit_code == 0
    sm = cloud.client("secretsmanager")
    sm.untag_resource(SecretId="keyturn/legacy", TagKeys=["keyturn:current"])
    iam = cloud.client("iam")
    iam.create_user(UserName="auditor")
    actions_only = {**policy, "Statement": [{**st, "Resource": "*"} for st in policy["Statement"]]}
    iam.put_user_policy(
        UserName="auditor", PolicyName="audit", PolicyDocument=json.dumps(actions_only)
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    with authenticated(cloud, monkeypatch):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        yield {"policy": json.dumps(policy), "url": cloud.url, "region": cloud.region}


def _denied(policy: dict[str, object], recording: Recording) -> list[str]:
    """The recorded calls the auditor's policy does not allow (listings on "*")."""
    denied = []
    for call in recording.calls:
        if call.action == "sts:GetCallerIdentity":
            continue  # needs no permission
        if call.service == "iam":
            user = call.params.get("UserName") or recording.key_owner.get(
                str(call.params.get("AccessKeyId", ""))
            )
            resource = f"arn:aws:iam::{ACCOUNT}:user/{user}" if user else "*"
        else:
            name = call.params.get("SecretId", "")
            resource = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf"
        if not allows(policy, call.action, resource):
            denied.append(f"{call.action} {resource}")
    return denied


def test_the_auditor_runs_scan_plan_and_report_without_a_secret_value(
    audited: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = ["--endpoint-url", audited["url"], "--region", audited["region"]]
    runner = CliRunner()
    html = tmp_path / "report.html"
    with recorded_calls(monkeypatch) as recording:
        scan = runner.invoke(cli, [*base, "--output", "json", "scan"])
        plan = runner.invoke(cli, [*base, "plan"])
        report = runner.invoke(cli, [*base, "report", "--html", str(html)])
    # THEN all three work under the auditor's rights alone
    assert scan.exit_code in {0, 1}, scan.output
    assert plan.exit_code in {0, 1}, plan.output
    assert report.exit_code == 0, report.output
    assert html.exists()
    actions = {call.action for call in recording.calls}
    assert "secretsmanager:GetSecretValue" not in actions
    assert {"iam:ListUsers", "iam:ListAccessKeys", "secretsmanager:DescribeSecret"} <= actions
    assert _denied(json.loads(audited["policy"]), recording) == []
    # ... the rotated user's state came from the mirror; the legacy one is said plainly
    users = {u["UserName"]: u for u in json.loads(scan.output)["users"]}
    assert users["app"]["status"] == "unchanged"  # just rotated: nothing due
    assert users["legacy"]["status"] == "failed"
    assert "not readable from metadata alone" in users["legacy"]["message"]


def test_the_auditor_role_may_not_read_a_secret_value(audited: dict[str, str]) -> None:
    policy = json.loads(audited["policy"])
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:keyturn/app-AbCdEf"
    assert allows(policy, "secretsmanager:DescribeSecret", secret)
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"):
        assert not allows(policy, action, secret)
    for action in ("iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"):
        assert not allows(policy, action, f"arn:aws:iam::{ACCOUNT}:user/app")
