"""T2: an insider allowed ``secretsmanager:CreateSecret`` makes ``keyturn/victim`` first.

Before, ``keyturn rotate victim`` wrote the new key into the attacker's secret and kept the
attacker's KMS key, rotation function, replicas and policy. Now keyturn writes only into a
secret it owns (:mod:`keyturn.core.secret_trust`); any other is refused for that user, with a
``refused`` notification, and left as it was, and so are the user's IAM keys.

Each attack runs against moto server through the Lambda handler, as in AWS. Two moto gaps are
worked around in the open: RotateSecret with a rotation function needs docker to invoke it, so
the attacker's rotation function is set on moto's in-process backend (what DescribeSecret
then reports is what AWS would report); and moto does not evaluate resource policies, so the
document keyturn writes is checked with a small Deny-aware evaluator below instead (explicit
Deny wins, as in AWS), in a form the fuller evaluator can take over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import pytest
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from keyturn.core.secret_policy import CHANGE_ACTIONS, secret_policy
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.handler import lambda_handler
from tests.infra.iam_audit import recorded_calls
from tests.integration.helpers import LambdaContext, keys_of, make_topic, make_user

SECRET = "keyturn/victim"
ATTACKER = f"arn:aws:iam::{ACCOUNT_ID}:user/mallory"
KEYTURN_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/keyturn-rotation"
CREATE = {"action": "create", "username": "victim"}


@pytest.fixture
def topic(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = make_topic(aws)
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", arn)
    return arn


@pytest.fixture
def victim(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The victim: an IAM user in keyturn's scope with one key due for rotation."""
    monkeypatch.setenv("KEYTURN_USERS", "victim")
    return make_user(aws, "victim", key_ages=(85,))


def _plant(aws: EmbeddedAws, more_tags: dict[str, str] | None = None, **extra: Any) -> str:
    """The attacker creates ``keyturn/victim``, with keyturn's own tags (tags prove nothing)."""
    tags = [
        {"Key": "keyturn:managed-by", "Value": "keyturn"},
        {"Key": "keyturn:user", "Value": "victim"},
        *({"Key": k, "Value": v} for k, v in (more_tags or {}).items()),
    ]
    created = aws.client("secretsmanager").create_secret(Name=SECRET, Tags=tags, **extra)
    return str(created["ARN"])


def victim_key_id(aws: EmbeddedAws) -> str:
    [key] = aws.client("iam").list_access_keys(UserName="victim")["AccessKeyMetadata"]
    return str(key["AccessKeyId"])


def _attacker_kms_key(aws: EmbeddedAws) -> str:
    return str(aws.client("kms").create_key(Description="mallory's key")["KeyMetadata"]["Arn"])


def _attacker_rotation_function(aws: EmbeddedAws) -> None:
    """What RotateSecret would leave, set on moto's backend (its RotateSecret would need docker
    to invoke the function)."""
    secret = secretsmanager_backends[ACCOUNT_ID][aws.region].secrets[SECRET]
    assert isinstance(secret, FakeSecret)
    secret.rotation_requested = True
    secret.rotation_lambda_arn = f"arn:aws:lambda:{aws.region}:{ACCOUNT_ID}:function:harvest"


def _attacker_policy(aws: EmbeddedAws, document: dict[str, Any]) -> None:
    aws.client("secretsmanager").put_resource_policy(
        SecretId=SECRET, ResourcePolicy=json.dumps(document)
    )


READS_FOR_MALLORY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ATTACKER},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    ],
}


def _secret_as_seen(aws: EmbeddedAws) -> dict[str, Any]:
    """Everything the attack could care about: value, versions, tags, KMS key, rotation,
    replicas, policy."""
    sm = aws.client("secretsmanager")
    described = sm.describe_secret(SecretId=SECRET)
    seen = {
        field: described.get(field)
        for field in ("KmsKeyId", "Tags", "VersionIdsToStages", "RotationLambdaARN")
    }
    seen["Replicas"] = [r["Region"] for r in described.get("ReplicationStatus", [])]
    seen["Policy"] = sm.get_resource_policy(SecretId=SECRET).get("ResourcePolicy")
    # the versions and their labels (moto's dates move when the test itself reads a value)
    seen["Versions"] = [
        (v["VersionId"], sorted(v["VersionStages"]))
        for v in sm.list_secret_version_ids(SecretId=SECRET)["Versions"]
    ]
    return seen


def _values(aws: EmbeddedAws) -> list[dict[str, Any]]:
    """The documents of every version of the secret (none holds a key of keyturn's)."""
    sm = aws.client("secretsmanager")
    versions = sm.list_secret_version_ids(SecretId=SECRET)["Versions"]
    raw = [sm.get_secret_value(SecretId=SECRET, VersionId=v["VersionId"]) for v in versions]
    return [{"AccessKeyId": None, **json.loads(r.get("SecretString") or "{}")} for r in raw]


def _prepare(aws: EmbeddedAws, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "own KMS key":
        _plant(aws, KmsKeyId=_attacker_kms_key(aws))
    elif how == "rotation function":
        _plant(aws)
        _attacker_rotation_function(aws)
    elif how == "own resource policy":
        _plant(aws)
        _attacker_policy(aws, READS_FOR_MALLORY)
    elif how == "replica":
        _plant(aws)
        aws.client("secretsmanager").replicate_secret_to_regions(
            SecretId=SECRET, AddReplicaRegions=[{"Region": "eu-west-1"}]
        )
    elif how == "keyturn's policy naming itself":
        # a document shaped like keyturn's, with mallory among "keyturn's" principals
        monkeypatch.setenv("KEYTURN_TRUSTED_PRINCIPAL_ARNS", KEYTURN_ROLE)
        victim_arn = aws.client("iam").get_user(UserName="victim")["User"]["Arn"]
        _plant(aws)
        _attacker_policy(aws, secret_policy(victim_arn, [KEYTURN_ROLE, ATTACKER]))
    elif how == "no policy, another mark planted":
        _plant(aws, {"keyturn:warned": victim_key_id(aws)})
    elif how == "no policy, a value planted":
        _plant(aws)
        aws.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString="{}")


ATTACKS = [
    "own KMS key",
    "rotation function",
    "own resource policy",
    "replica",
    "keyturn's policy naming itself",
    "no policy, another mark planted",
    "no policy, a value planted",
]
"""An in-flight mark planted in a bare creation is not refused but never believed (below)."""
REASONS = {
    "own KMS key": "its KMS key is arn:aws:kms:",
    "rotation function": "it is rotated by arn:aws:lambda:",
    "own resource policy": "its resource policy is not the one keyturn writes",
    "replica": "it is replicated to eu-west-1",
    "keyturn's policy naming itself": "its resource policy is not the one keyturn writes",
    "no policy, another mark planted": "it has no resource policy",
    "no policy, a value planted": "it has no resource policy",
}


@pytest.mark.attack("T2: pre-create keyturn/victim, then wait for keyturn rotate victim")
@pytest.mark.parametrize("how", ATTACKS)
def test_a_rotation_into_a_planted_secret_is_refused_and_changes_nothing(
    aws: EmbeddedAws, topic: str, victim: list[str], how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the attacker created keyturn/victim first, in one of the ways keyturn would keep
    _prepare(aws, how, monkeypatch)
    before, keys_before = _secret_as_seen(aws), keys_of(aws, "victim")
    # WHEN the victim's key is rotated (the original recipe's event)
    response = lambda_handler(CREATE, LambdaContext())
    # THEN keyturn refuses, says why, and tells the topic
    assert response["statusCode"] == 409
    assert f"secret {SECRET} was not created by keyturn: {REASONS[how]}" in response["error"]
    [sent] = aws.sent_notifications(topic)
    body = json.loads(sent.message)
    assert body["Event"] == "refused"
    assert REASONS[how] in body["Reason"]
    # AND nothing changed: no value, same tags, KMS key, rotation, replicas and policy
    assert _secret_as_seen(aws) == before
    assert all(version["AccessKeyId"] != victim[0] for version in _values(aws))
    # AND the victim's IAM keys are as they were
    assert keys_of(aws, "victim") == keys_before == {victim[0]: "Active"}


@pytest.mark.attack("T2: pre-create keyturn/victim, then wait for the scheduled run")
def test_a_scheduled_run_refuses_the_planted_user_and_rotates_the_others(
    aws: EmbeddedAws, topic: str, victim: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYTURN_USERS", "victim,bystander")
    make_user(aws, "bystander", key_ages=(85,))
    _plant(aws, KmsKeyId=_attacker_kms_key(aws))
    before = _secret_as_seen(aws)

    response = lambda_handler({"action": "run"}, LambdaContext())

    statuses = {row["UserName"]: row["status"] for row in response["body"]["users"]}
    assert statuses == {"victim": "refused", "bystander": "changed"}
    assert _secret_as_seen(aws) == before
    assert keys_of(aws, "victim") == {victim[0]: "Active"}
    assert len(keys_of(aws, "bystander")) == 2
    refused = [json.loads(n.message) for n in aws.sent_notifications(topic)]
    assert [n["UserName"] for n in refused if n["Event"] == "refused"] == ["victim"]


@pytest.mark.attack("T2: pre-create keyturn/victim exactly as keyturn would, without a policy")
def test_a_bare_copy_of_keyturns_creation_is_finished_by_keyturn_and_shuts_its_maker_out(
    aws: EmbeddedAws, topic: str, victim: list[str]
) -> None:
    # GIVEN a secret indistinguishable from keyturn's own creation stopped before its policy
    # (as a crash between CreateSecret and PutResourcePolicy leaves it): no value, no mark
    _plant(aws)
    # WHEN the victim is rotated
    response = lambda_handler(CREATE, LambdaContext())
    # THEN keyturn puts its own policy on first and delivers: the secret holds nothing of the
    # attacker's, and the policy reads and changes it only for the victim and keyturn
    assert response["statusCode"] == 200
    sm = aws.client("secretsmanager")
    policy = json.loads(sm.get_resource_policy(SecretId=SECRET)["ResourcePolicy"])
    caller = aws.client("sts").get_caller_identity()["Arn"]
    victim_arn = aws.client("iam").get_user(UserName="victim")["User"]["Arn"]
    assert policy == secret_policy(victim_arn, [caller])
    assert decide(policy, Request(ATTACKER, READ, identity_allows=True)) == "deny"
    assert decide(policy, Request(ATTACKER, "secretsmanager:PutSecretValue", True)) == "deny"
    assert "KmsKeyId" not in sm.describe_secret(SecretId=SECRET)
    events = [json.loads(n.message)["Event"] for n in aws.sent_notifications(topic)]
    assert events == ["rotated"]


@pytest.mark.attack(
    "T2: pre-create keyturn/victim bare, its in-flight mark dating the victim's key"
)
@pytest.mark.parametrize("mark", ["since:{}@", "{}@"], ids=["this format", "an older keyturn's"])
def test_a_mark_planted_in_a_bare_creation_is_never_believed(
    aws: EmbeddedAws, topic: str, victim: list[str], mark: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the attacker creates keyturn/victim as a first rotation's CreateSecret does (its
    # tags and an in-flight mark, no policy), the mark dated just before the victim's key and
    # recording no keys: believed, it would make that key keyturn's undelivered one, which
    # keyturn deactivates and deletes
    monkeypatch.setenv("KEYTURN_USERS", "victim,bystander")
    make_user(aws, "bystander", key_ages=(85,))
    [key] = victim
    [meta] = aws.client("iam").list_access_keys(UserName="victim")["AccessKeyMetadata"]
    dated = (meta["CreateDate"] - timedelta(seconds=1)).isoformat()
    _plant(aws, {"keyturn:pending-since": mark.format(dated)})
    # WHEN the scheduled run goes
    response = lambda_handler({"action": "run"}, LambdaContext())
    # THEN the victim's key survives, active: keyturn finished the creation and rotated, the
    # victim's key now the previous one in its grace period; the bystander is rotated too
    statuses = {row["UserName"]: row["status"] for row in response["body"]["users"]}
    assert statuses == {"victim": "changed", "bystander": "changed"}
    keys = keys_of(aws, "victim")
    assert keys[key] == "Active"
    assert sorted(keys.values()) == ["Active", "Active"]
    # AND the secret is keyturn's now: its policy shuts the attacker out, the mark is gone
    sm = aws.client("secretsmanager")
    policy = json.loads(sm.get_resource_policy(SecretId=SECRET)["ResourcePolicy"])
    caller = aws.client("sts").get_caller_identity()["Arn"]
    victim_arn = aws.client("iam").get_user(UserName="victim")["User"]["Arn"]
    assert policy == secret_policy(victim_arn, [caller])
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=SECRET)["Tags"]}
    assert tags["keyturn:pending-since"] == ""
    events = [json.loads(n.message) for n in aws.sent_notifications(topic)]
    assert sorted(e["Event"] for e in events) == ["rotated", "rotated"]


def test_a_secret_keyturn_created_has_its_policy_first_and_is_trusted_later(
    aws: EmbeddedAws, topic: str, victim: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keyturn makes keyturn/victim itself
    with recorded_calls(monkeypatch) as recording:
        first = lambda_handler(CREATE, LambdaContext())
    assert first["statusCode"] == 200
    # THEN its policy went on right after CreateSecret, before any key, mark or value; the
    # in-flight mark rode in CreateSecret's tags
    calls = [
        c
        for c in recording.calls
        if c.service in {"secretsmanager", "iam"}
        and not c.operation.startswith(("Describe", "Get", "List"))
    ]
    writes = [c.operation for c in calls]
    assert writes[:4] == ["CreateSecret", "PutResourcePolicy", "CreateAccessKey", "PutSecretValue"]
    created_tags = {t["Key"]: t["Value"] for t in calls[0].params["Tags"]}
    assert created_tags["keyturn:pending-since"].startswith("since:")
    # ... and the policy is the document keyturn writes, for keyturn's caller (moto's identity)
    policy = json.loads(
        aws.client("secretsmanager").get_resource_policy(SecretId=SECRET)["ResourcePolicy"]
    )
    caller = aws.client("sts").get_caller_identity()["Arn"]
    victim_arn = aws.client("iam").get_user(UserName="victim")["User"]["Arn"]
    assert policy == secret_policy(victim_arn, [caller])
    # WHEN later runs rotate and restore again
    [old] = victim
    aws.client("iam").delete_access_key(UserName="victim", AccessKeyId=old)
    [current] = keys_of(aws, "victim")
    aws.backdate_key("victim", current, 85)
    second = lambda_handler(CREATE, LambdaContext(aws_request_id="req-0002"))
    restored = lambda_handler(
        {"action": "restore", "username": "victim"}, LambdaContext(aws_request_id="req-0003")
    )
    # THEN the secret passes the check every time
    assert (second["statusCode"], restored["statusCode"]) == (200, 200)
    events = [json.loads(n.message)["Event"] for n in aws.sent_notifications(topic)]
    assert "refused" not in events


# --- The document, evaluated: moto does not evaluate resource policies --------------------------


@dataclass(frozen=True)
class Request:
    principal_arn: str
    action: str
    identity_allows: bool
    """Whether the caller's own identity policies allow the action on the secret."""


def decide(document: dict[str, Any], request: Request) -> str:
    """``allow`` or ``deny`` for a same-account request, as AWS decides it: an explicit Deny in
    the resource policy wins; otherwise an Allow in either policy allows. Understands only
    what keyturn's document uses (``Principal`` ``*`` or ``{"AWS": ...}``, ``Action`` lists
    with wildcards, ``Resource: *``, ``ArnNotEquals``/``ArnEquals`` on ``aws:PrincipalArn``)."""
    matching = [s for s in _statements(document) if _applies(s, request)]
    if any(s["Effect"] == "Deny" for s in matching):
        return "deny"
    if request.identity_allows or any(s["Effect"] == "Allow" for s in matching):
        return "allow"
    return "deny"


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    statements = document["Statement"]
    yield from [statements] if isinstance(statements, dict) else statements


def _listed(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _applies(statement: dict[str, Any], request: Request) -> bool:
    principal = statement["Principal"]
    principals = ["*"] if principal == "*" else _listed(principal["AWS"])
    if not any(fnmatchcase(request.principal_arn, p) for p in principals):
        return False
    if not any(fnmatchcase(request.action, a) for a in _listed(statement["Action"])):
        return False
    assert statement["Resource"] == "*"
    for operator, tests in statement.get("Condition", {}).items():
        assert set(tests) == {"aws:PrincipalArn"}, "the evaluator knows this key only"
        named = request.principal_arn in _listed(tests["aws:PrincipalArn"])
        if operator == "ArnNotEquals" and named:
            return False
        if operator == "ArnEquals" and not named:
            return False
        assert operator in {"ArnNotEquals", "ArnEquals"}, operator
    return True


OWNER = f"arn:aws:iam::{ACCOUNT_ID}:user/integrations/victim"
WORKER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/keyturn-member"
ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/Admin"
DOCUMENT = secret_policy(OWNER, [KEYTURN_ROLE, WORKER_ROLE])
READ = "secretsmanager:GetSecretValue"


def test_the_evaluator_lets_deny_win_and_allow_by_either_policy() -> None:
    # the evaluator itself: a plain Allow allows, an explicit Deny beats an identity Allow
    allow = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OWNER}, "Action": READ, "Resource": "*"}
        ]
    }
    assert decide(allow, Request(OWNER, READ, identity_allows=False)) == "allow"
    assert decide(allow, Request(ATTACKER, READ, identity_allows=False)) == "deny"
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
    assert decide(deny, Request(ATTACKER, READ, identity_allows=True)) == "deny"


@pytest.mark.attack("T2: read keyturn/victim with an identity policy allowing keyturn/*")
@pytest.mark.parametrize("reader", [ATTACKER, ADMIN, f"arn:aws:iam::{ACCOUNT_ID}:user/victim2"])
def test_an_identity_policy_on_keyturn_star_no_longer_reads_a_key(reader: str) -> None:
    assert decide(DOCUMENT, Request(reader, READ, identity_allows=True)) == "deny"


@pytest.mark.attack("T2: change keyturn/victim (value, tags, policy, labels, delete)")
@pytest.mark.parametrize("action", CHANGE_ACTIONS)
@pytest.mark.parametrize("who", [ATTACKER, ADMIN, OWNER])
def test_nobody_but_keyturn_changes_the_secret(who: str, action: str) -> None:
    assert decide(DOCUMENT, Request(who, action, identity_allows=True)) == "deny"


@pytest.mark.parametrize(
    ("request_", "decision"),
    [
        # the owner reads its own key on the resource policy alone
        (Request(OWNER, READ, identity_allows=False), "allow"),
        (Request(OWNER, "secretsmanager:DescribeSecret", identity_allows=False), "allow"),
        # keyturn's principals read and change, with their identity policies
        (Request(KEYTURN_ROLE, READ, identity_allows=True), "allow"),
        (Request(WORKER_ROLE, "secretsmanager:PutSecretValue", identity_allows=True), "allow"),
        (Request(KEYTURN_ROLE, "secretsmanager:PutResourcePolicy", identity_allows=True), "allow"),
        # but the document grants keyturn nothing by itself
        (Request(KEYTURN_ROLE, "secretsmanager:PutSecretValue", identity_allows=False), "deny"),
        # describing is not reading the key: left to identity policies
        (Request(ATTACKER, "secretsmanager:DescribeSecret", identity_allows=True), "allow"),
    ],
)
def test_the_owner_and_keyturn_keep_their_access(request_: Request, decision: str) -> None:
    assert decide(DOCUMENT, request_) == decision
