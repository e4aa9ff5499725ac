"""infra/scp-keyturn-guard.json: the SCP an organization adds so that keyturn's inputs stay
keyturn's, tried by insiders who administer a member account.

Inside the account such an insider's identity policy allows everything; an SCP is what still
binds them. Each attack is evaluated against the account's SCPs (AWS's FullAWSAccess and the
guard) and must be denied; keyturn's own roles and the organization's deployers must still do
their work. SCPs do not bind the management account: deploy the hub in a delegated one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.security.policy_eval import ContextValue, Document, Outcome, Request, evaluate

GUARD_PATH = Path(__file__).resolve().parents[2] / "infra" / "scp-keyturn-guard.json"
GUARD: Document = json.loads(GUARD_PATH.read_text())
FULL_AWS_ACCESS: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ADMINISTRATOR = FULL_AWS_ACCESS  # the same document as the insider's identity policy
ACCOUNT = "210987654321"
INSIDER = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
KEYTURN_ADMIN = f"arn:aws:iam::{ACCOUNT}:role/keyturn-admin"
ROTATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/keyturn-RotationRole-1A2B3C4D5E6F"
WORKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/keyturn-member"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/stacksets-exec-0123456789abcdef"
VICTIM = f"arn:aws:iam::{ACCOUNT}:user/payments"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:keyturn/payments-AbCdEf"
FUNCTION = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:keyturn-RotationFunction-1A2B3C"


def _outcome(
    principal: str, action: str, resource: str, context: Mapping[str, ContextValue] | None = None
) -> Outcome:
    request = Request(principal, action, resource, context or {})
    return evaluate(request, [ADMINISTRATOR], scps=[FULL_AWS_ACCESS, GUARD]).outcome


def test_the_guard_is_a_valid_scp_within_the_size_limit() -> None:
    # Organizations counts the policy's characters, whitespace included, against 5,120.
    assert len(GUARD_PATH.read_text()) <= 5120
    statements: list[dict[str, object]] = json.loads(GUARD_PATH.read_text())["Statement"]
    for statement in statements:
        assert statement["Effect"] == "Deny"
        assert "Principal" not in statement  # SCPs name no principal


@pytest.mark.attack("scp: tag a user into keyturn's scope, or out of it")
@pytest.mark.parametrize(
    ("action", "keys"),
    [
        ("iam:TagUser", ["keyturn:managed"]),
        ("iam:TagUser", ["team", "keyturn:rotate-after-days"]),
        ("iam:UntagUser", ["keyturn:exempt"]),
        ("iam:CreateUser", ["keyturn:managed"]),
    ],
)
def test_only_keyturn_admins_set_keyturn_tags_on_users(action: str, keys: list[str]) -> None:
    context = {"aws:TagKeys": keys}
    # WHEN an account administrator brings a user into keyturn's scope (or exempts one)
    assert _outcome(INSIDER, action, VICTIM, context) is Outcome.EXPLICIT_DENY
    # THEN the SCP refuses; the keyturn admin role may, and other tags are untouched
    assert _outcome(KEYTURN_ADMIN, action, VICTIM, context) is Outcome.ALLOWED
    assert _outcome(INSIDER, action, VICTIM, {"aws:TagKeys": ["team"]}) is Outcome.ALLOWED
    assert _outcome(INSIDER, "iam:CreateUser", VICTIM) is Outcome.ALLOWED


SECRET_WRITES = [
    "secretsmanager:CreateSecret",  # squatting keyturn/<user> with a policy of one's own
    "secretsmanager:PutSecretValue",  # planting a key of one's choice
    "secretsmanager:UpdateSecretVersionStage",  # moving AWSCURRENT back to an old key
    "secretsmanager:PutResourcePolicy",  # granting oneself the secret
    "secretsmanager:DeleteResourcePolicy",  # dropping the owner-only policy
    "secretsmanager:TagResource",  # forging keyturn's state marks
    "secretsmanager:DeleteSecret",
    "secretsmanager:RotateSecret",
    "secretsmanager:ReplicateSecretToRegions",
]


@pytest.mark.attack("scp: write a keyturn secret as someone else")
@pytest.mark.parametrize("action", SECRET_WRITES)
def test_only_keyturn_writes_keyturn_secrets(action: str) -> None:
    # WHEN an account administrator writes to a keyturn/ secret
    assert _outcome(INSIDER, action, SECRET) is Outcome.EXPLICIT_DENY
    # THEN the SCP refuses; keyturn's roles (and its admin) still keep their secrets
    for keyturn in (ROTATION_ROLE, WORKER_ROLE, KEYTURN_ADMIN):
        assert _outcome(keyturn, action, SECRET) is Outcome.ALLOWED
    # ... the insider's own secrets and reading keyturn's are not the SCP's business
    other = SECRET.replace("keyturn/payments", "team/db")
    assert _outcome(INSIDER, action, other) is Outcome.ALLOWED
    assert _outcome(INSIDER, "secretsmanager:GetSecretValue", SECRET) is Outcome.ALLOWED


@pytest.mark.attack("scp: become keyturn through its roles")
@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("iam:CreateRole", "keyturn-RotationRole-evil"),  # a name the exceptions above match
        ("iam:UpdateAssumeRolePolicy", "keyturn-member"),  # trust oneself
        ("iam:PutRolePolicy", "keyturn-member-reader"),  # give the reader writes
        ("iam:AttachRolePolicy", "keyturn-admin"),
        ("iam:PassRole", "keyturn-RotationRole-1A2B3C4D5E6F"),  # run own code as keyturn
    ],
)
def test_only_deployers_change_or_pass_keyturn_roles(action: str, role: str) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert _outcome(INSIDER, action, arn) is Outcome.EXPLICIT_DENY
    # ... not even keyturn's own roles; the StackSet's execution role still deploys them
    assert _outcome(WORKER_ROLE, action, arn) is Outcome.EXPLICIT_DENY
    assert _outcome(DEPLOYER, action, arn) is Outcome.ALLOWED
    assert _outcome(INSIDER, action, f"arn:aws:iam::{ACCOUNT}:role/team-app") is Outcome.ALLOWED


@pytest.mark.attack("scp: replace keyturn's code or configuration")
@pytest.mark.parametrize(
    "action",
    ["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission"],
)
def test_only_deployers_change_keyturn_functions(action: str) -> None:
    assert _outcome(INSIDER, action, FUNCTION) is Outcome.EXPLICIT_DENY
    assert _outcome(DEPLOYER, action, FUNCTION) is Outcome.ALLOWED
    team_function = FUNCTION.replace("keyturn-RotationFunction", "team-api")
    assert _outcome(INSIDER, action, team_function) is Outcome.ALLOWED
