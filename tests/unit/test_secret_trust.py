"""The secret's resource policy and the trust check, pure: what keyturn writes and accepts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from keyturn.core.secret_policy import (
    CHANGE_ACTIONS,
    principal_arn,
    same_policy,
    secret_policy,
)
from keyturn.core.secret_trust import (
    SecretFacts,
    SecretTrust,
    mark_unfounded,
    parse_arn,
    same_kms_key,
)
from keyturn.errors import ConfigurationError
from keyturn.settings import Settings

ACCOUNT = "123456789012"
OWNER = f"arn:aws:iam::{ACCOUNT}:user/svc/app"
KEYTURN = f"arn:aws:iam::{ACCOUNT}:role/keyturn"
WORKER = f"arn:aws:iam::{ACCOUNT}:role/keyturn-worker"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:keyturn/app-AbCdEf"
HOME = parse_arn(SECRET_ARN)
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"


def _statement(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["Statement"] if s["Sid"] == sid)
    return found


def test_the_policy_lets_the_owner_read_and_denies_everyone_else() -> None:
    doc = secret_policy(OWNER, [WORKER, KEYTURN, KEYTURN])
    owner = _statement(doc, "OwnerReadsOwnKey")
    assert owner["Effect"] == "Allow"
    assert owner["Principal"] == {"AWS": OWNER}
    read = _statement(doc, "OnlyOwnerAndKeyturnRead")
    assert (read["Effect"], read["Principal"]) == ("Deny", "*")
    assert read["Action"] == ["secretsmanager:GetSecretValue"]
    # the readers: the owner and keyturn's principals, sorted, each once
    assert read["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [KEYTURN, WORKER, OWNER]}}
    change = _statement(doc, "OnlyKeyturnChanges")
    assert change["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [KEYTURN, WORKER]}}
    issue_list = {
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:DeleteSecret",
    }
    assert issue_list <= set(change["Action"]) == set(CHANGE_ACTIONS)


def test_the_policy_does_not_depend_on_the_order_principals_are_configured_in() -> None:
    assert secret_policy(OWNER, [KEYTURN, WORKER]) == secret_policy(OWNER, [WORKER, KEYTURN])


@pytest.mark.parametrize(("owner", "principals"), [("", [KEYTURN]), (OWNER, [])])
def test_a_policy_needs_an_owner_and_a_keyturn_principal(owner: str, principals: list[str]) -> None:
    with pytest.raises(ValueError, match="owner and at least one"):
        secret_policy(owner, principals)


def _reserialised(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as AWS might hand it back: statements and lists reordered, one-element
    lists as strings, ``"*"`` as ``{"AWS": "*"}``."""
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    copy["Statement"].reverse()
    for statement in copy["Statement"]:
        statement["Action"] = (
            statement["Action"][0] if len(statement["Action"]) == 1 else statement["Action"][::-1]
        )
        if statement["Principal"] == "*":
            statement["Principal"] = {"AWS": "*"}
        for tests in statement.get("Condition", {}).values():
            tests["aws:principalarn"] = tests.pop("aws:PrincipalArn")[::-1]
    return copy


def _with(doc: dict[str, Any], change: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    if change == "extra statement":
        copy["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*"}
        )
    elif change == "other owner":
        copy["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:user/mallory"}
    elif change == "a reader more":
        copy["Statement"][1]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append("x")
    elif change == "no condition":
        del copy["Statement"][2]["Condition"]
    elif change == "fewer actions":
        copy["Statement"][2]["Action"] = ["secretsmanager:PutSecretValue"]
    return copy


def test_a_policy_reads_the_same_however_aws_reserialises_it() -> None:
    doc = secret_policy(OWNER, [KEYTURN])
    assert same_policy(_reserialised(doc), doc)


@pytest.mark.parametrize(
    "change", ["extra statement", "other owner", "a reader more", "no condition", "fewer actions"]
)
def test_any_other_policy_differs(change: str) -> None:
    doc = secret_policy(OWNER, [KEYTURN])
    assert not same_policy(_with(doc, change), doc)


@pytest.mark.parametrize("found", [None, "policy", ["a"], {"Statement": "x"}, {}])
def test_unreadable_policies_differ(found: object) -> None:
    assert not same_policy(found, secret_policy(OWNER, [KEYTURN]))


@pytest.mark.parametrize(
    ("caller", "principal"),
    [
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/keyturn-fn/session",
            KEYTURN.replace("keyturn", "keyturn-fn"),
        ),
        (
            f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/r/s/with/slashes",
            f"arn:aws-cn:iam::{ACCOUNT}:role/r",
        ),
        (f"arn:aws:iam::{ACCOUNT}:user/ops/alice", f"arn:aws:iam::{ACCOUNT}:user/ops/alice"),
        (
            f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
            f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
        ),
    ],
)
def test_the_callers_principal_arn(caller: str, principal: str) -> None:
    assert principal_arn(caller) == principal


@pytest.mark.parametrize(
    ("configured", "found", "same"),
    [
        (KEY_ARN, KEY_ARN, True),
        (KEY_ID, KEY_ARN, True),
        (KEY_ARN, KEY_ID, True),
        ("alias/keys", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/keys", True),
        ("alias/keys", "alias/keys", True),
        # the same id or alias in another account or region is another key
        (KEY_ID, f"arn:aws:kms:us-east-1:666666666666:key/{KEY_ID}", False),
        ("alias/keys", "arn:aws:kms:us-east-1:666666666666:alias/keys", False),
        (KEY_ID, f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}", False),
        # an alias and the key behind it would take KMS to match: refused
        ("alias/keys", KEY_ARN, False),
        (KEY_ARN, f"arn:aws:kms:us-east-1:{ACCOUNT}:key/other", False),
    ],
)
def test_kms_keys_match_by_id_or_alias_in_the_secrets_account(
    configured: str, found: str, same: bool
) -> None:
    assert HOME is not None
    assert same_kms_key(configured, found, HOME) is same


TRUST = SecretTrust((KEYTURN,), own_function_name="keyturn-fn")
GOOD = SecretFacts(SECRET_ARN, policy=TRUST.policy_for(OWNER))


@pytest.mark.parametrize(
    ("trust", "facts", "reason"),
    [
        (TRUST, GOOD, None),
        (TRUST, SecretFacts(SECRET_ARN, "alias/aws/secretsmanager", policy=GOOD.policy), None),
        (TRUST, SecretFacts(SECRET_ARN, KEY_ARN, policy=GOOD.policy), "its KMS key is arn:aws:kms"),
        (SecretTrust((KEYTURN,), KEY_ARN), GOOD, "KMS key is alias/aws/secretsmanager, not arn"),
        (
            SecretTrust((KEYTURN,), KEY_ARN),
            SecretFacts(SECRET_ARN, KEY_ID, policy=GOOD.policy),
            None,
        ),
        (
            TRUST,
            SecretFacts(
                SECRET_ARN,
                rotation_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:keyturn-fn",
                policy=GOOD.policy,
            ),
            None,
        ),
        (
            TRUST,
            SecretFacts(
                SECRET_ARN,
                rotation_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mallory",
                policy=GOOD.policy,
            ),
            "it is rotated by arn:aws:lambda:us-east-1:123456789012:function:mallory",
        ),
        (
            TRUST,
            SecretFacts(
                SECRET_ARN,
                rotation_function_arn="arn:aws:lambda:us-east-1:666666666666:function:keyturn-fn",
                policy=GOOD.policy,
            ),
            "not by keyturn",
        ),
        (
            SecretTrust(
                (KEYTURN,),
                rotation_function_arns=(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kt",),
            ),
            SecretFacts(
                SECRET_ARN,
                rotation_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kt:live",
                policy=GOOD.policy,
            ),
            None,
        ),
        (
            TRUST,
            SecretFacts(SECRET_ARN, replica_regions=("eu-west-1",), policy=GOOD.policy),
            "replicated to eu-west-1",
        ),
        (TRUST, SecretFacts(SECRET_ARN), "it has no resource policy"),
        (
            TRUST,
            SecretFacts(SECRET_ARN, policy=secret_policy(OWNER, [WORKER])),
            "its resource policy is not the one keyturn writes",
        ),
    ],
)
def test_what_keyturn_trusts(trust: SecretTrust, facts: SecretFacts, reason: str | None) -> None:
    found = trust.distrust(facts, OWNER)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_the_new_variables_are_read_and_explicit_values_win() -> None:
    env = {
        "KEYTURN_TRUSTED_PRINCIPAL_ARNS": f" {KEYTURN},{WORKER},,{KEYTURN}",
        "KEYTURN_ROTATION_FUNCTION_ARNS": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kt",
        "AWS_LAMBDA_FUNCTION_NAME": "keyturn-fn",
    }
    settings = Settings.from_env(env)
    assert settings.trusted_principal_arns == (KEYTURN, WORKER)
    assert settings.rotation_function_arns == (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:kt",)
    assert settings.function_name == "keyturn-fn"
    assert Settings.from_env({}).trusted_principal_arns == ()
    explicit = Settings.from_env(env, trusted_principal_arns=(WORKER,))
    assert explicit.trusted_principal_arns == (WORKER,)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KEYTURN_TRUSTED_PRINCIPAL_ARNS": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"},
            "KEYTURN_TRUSTED_PRINCIPAL_ARNS: .* is not the ARN of an IAM role or user",
        ),
        ({"KEYTURN_TRUSTED_PRINCIPAL_ARNS": "keyturn"}, "not the ARN of an IAM role"),
        ({"KEYTURN_ROTATION_FUNCTION_ARNS": "keyturn-fn"}, "is not a Lambda function ARN"),
    ],
)
def test_bad_principals_and_functions_are_explained(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


BARE = SecretFacts(SECRET_ARN, tags={"keyturn:managed-by": "keyturn", "keyturn:user": "app"})


@pytest.mark.parametrize(
    ("facts", "unfinished"),
    [
        (BARE, True),
        (replace(BARE, version_ids=("v1",)), False),
        # a first rotation's mark rides in CreateSecret: unfinished, the mark never believed
        (replace(BARE, tags={**BARE.tags, "keyturn:pending-since": "2020-01-01"}), True),
        (replace(BARE, tags={**BARE.tags, "keyturn:warned": "AKIAOLD0000000000000"}), False),
        (replace(BARE, tags={"keyturn:managed-by": "keyturn", "keyturn:user": "other"}), False),
        (replace(BARE, tags={}), False),
        (replace(BARE, kms_key_id=KEY_ARN), False),
        (replace(BARE, replica_regions=("eu-west-1",)), False),
        (replace(BARE, policy={"Version": "2012-10-17", "Statement": []}), False),
        (replace(BARE, policy=TRUST.policy_for(OWNER)), False),  # finished: trusted as it is
    ],
)
def test_only_a_bare_creation_without_policy_is_keyturns_unfinished_one(
    facts: SecretFacts, unfinished: bool
) -> None:
    assert TRUST.unfinished(facts, "app", OWNER) is unfinished


@pytest.mark.parametrize(
    ("mark", "versions", "has_policy", "unfounded"),
    [
        ("since:2026-01-01T00:00:00+00:00@", (), False, True),  # no policy: no key in flight
        ("2026-01-01T00:00:00+00:00", (), False, True),  # an older keyturn's, the same
        ("since:2026-01-01T00:00:00+00:00@", (), True, False),  # crash after the policy
        ("since:2026-01-01T00:00:00+00:00@", ("v1",), False, False),  # the claim refuses it
        ("", (), False, False),  # emptied: no mark at all
    ],
)
def test_a_mark_is_unfounded_on_a_secret_without_policy_or_version(
    mark: str, versions: tuple[str, ...], has_policy: bool, unfounded: bool
) -> None:
    tags = {**BARE.tags, "keyturn:pending-since": mark}
    assert mark_unfounded(tags, versions, has_policy) is unfounded
