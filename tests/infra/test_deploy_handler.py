"""The handler, run in-process with the deployed stack's environment, rotates the example user.

moto cannot invoke a Lambda function (it would need docker), so the test does what Lambda
would: it reads the function's environment back from the stack (GetFunctionConfiguration) and
calls ``keyturn.handler.lambda_handler`` with it, against the same moto server. Every AWS call
the handler makes is recorded and checked against the role the stack created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from keyturn.emulator import EmbeddedAws

from .iam_audit import Call, Recording, allows, recorded_calls, request_context
from .stack import (
    ACCOUNT,
    REGION,
    Deployed,
    deploy_integration_user,
    deploy_keyturn,
)

USER = "keyturn-sqs-integration"
OUTSIDER = "alice"
PARAMETERS = {
    "NotificationEmail": "ops@example.com",
    "RecipeUserName": USER,
    "SecretsKmsKey": "create",
    "ManageTaggedUsers": "true",
}


@dataclass
class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "4b1c6f7e-0000-4000-8000-000000000001"


@pytest.fixture
def stack(cloud: EmbeddedAws) -> Deployed:
    """The integration user (with the key its application uses today), an out-of-scope user
    with a key of its own, and keyturn's stack."""
    deploy_integration_user(cloud, USER)
    iam = cloud.client("iam")
    iam.create_access_key(UserName=USER)
    iam.create_user(UserName=OUTSIDER)
    iam.create_access_key(UserName=OUTSIDER)
    return deploy_keyturn(cloud, "keyturn", PARAMETERS)


@pytest.fixture
def invoke(stack: Deployed, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Any]:
    """Call lambda_handler as Lambda would, with the function's configured environment."""
    lambda_client = stack.aws.client("lambda")
    config = lambda_client.get_function_configuration(FunctionName=stack.outputs["FunctionArn"])
    for name, value in config["Environment"]["Variables"].items():
        monkeypatch.setenv(name, str(value))
    context = LambdaContext(config["FunctionName"], config["FunctionArn"], config["MemorySize"])

    def call(event: dict[str, Any]) -> Any:
        from keyturn.handler import lambda_handler  # noqa: PLC0415 - after the environment is set

        return lambda_handler(event, context)

    return call


def _keys(aws: EmbeddedAws, user: str) -> dict[str, str]:
    metadata = aws.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {m["AccessKeyId"]: m["Status"] for m in metadata}


def test_create_rotates_the_integration_user_into_its_secret(
    stack: Deployed,
    invoke: Callable[[dict[str, Any]], Any],
    issued_secrets: Callable[[], set[str]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the integration user with the one key its application uses today
    (old_key,) = _keys(stack.aws, USER)
    outsider_keys = _keys(stack.aws, OUTSIDER)

    # WHEN the original recipe's event arrives
    response = invoke({"action": "create", "username": USER})

    # THEN a second key exists, both active during the grace days, and the new one is stored
    assert response["statusCode"] == 200
    keys = _keys(stack.aws, USER)
    (new_key,) = set(keys) - {old_key}
    assert keys == {old_key: "Active", new_key: "Active"}
    secrets = stack.aws.client("secretsmanager")
    name = f"{stack.outputs['SecretPrefix']}{USER}"
    stored = json.loads(
        secrets.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    )
    assert (stored["UserName"], stored["AccessKeyId"]) == (USER, new_key)
    issued = {key for key in issued_secrets() if key}
    stored_secret_was_issued = stored["SecretAccessKey"] in issued
    assert stored_secret_was_issued
    # ... encrypted with the stack's key and readable by the user itself
    secrets_key_id = stack.resources["SecretsKey"]["id"]
    assert secrets.describe_secret(SecretId=name)["KmsKeyId"].endswith(secrets_key_id)
    grant = json.loads(secrets.get_resource_policy(SecretId=name)["ResourcePolicy"])
    user_arn = stack.aws.client("iam").get_user(UserName=USER)["User"]["Arn"]
    assert grant["Statement"][0]["Principal"] == {"AWS": user_arn}
    assert "secretsmanager:GetSecretValue" in grant["Statement"][0]["Action"]
    # ... the topic was told, without the secret; no other user was touched
    notifications = stack.aws.sent_notifications(stack.outputs["TopicArn"])
    assert notifications
    leaked = [n for n in notifications if any(s in n.message for s in issued)]
    assert not leaked, "a secret access key went out in a notification"
    assert _keys(stack.aws, OUTSIDER) == outsider_keys
    # ... and no secret access key reached stdout or stderr (Powertools logs and metrics)
    output = "".join(capfd.readouterr())
    printed = [s for s in issued if s in output]
    assert not printed, "a secret access key was printed"


def test_scheduled_run_leaves_fresh_keys_and_other_users_alone(
    stack: Deployed, invoke: Callable[[dict[str, Any]], Any]
) -> None:
    invoke({"action": "create", "username": USER})
    before = {user: _keys(stack.aws, user) for user in (USER, OUTSIDER)}

    response = invoke({"action": "run"})

    assert response["statusCode"] == 200
    assert {user: _keys(stack.aws, user) for user in (USER, OUTSIDER)} == before


def _denied(stack: Deployed, recording: Recording) -> list[tuple[str, str]]:
    """The recorded calls the stack's role does not allow, as (action, resource)."""
    policy = stack.role_policy()
    return [
        (call.action, resource)
        for call in recording.calls
        if (resource := _resource(stack.aws, recording, call)) is not None
        and not allows(
            policy, call.action, resource, _tags(stack.aws, call, recording), request_context(call)
        )
    ]


def test_every_call_of_a_rotation_is_allowed_by_the_stack_role(
    stack: Deployed, invoke: Callable[[dict[str, Any]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the role the stack created; WHEN the recipe's event creates, stores, announces a key
    with recorded_calls(monkeypatch) as recording:
        invoke({"action": "create", "username": USER})

    # THEN each call's action is granted on the resource it touched
    actions = {call.action for call in recording.calls}
    assert {"iam:CreateAccessKey", "secretsmanager:PutSecretValue", "sns:Publish"} <= actions
    assert _denied(stack, recording) == []


def test_every_call_of_a_rotation_into_its_existing_secret_is_allowed_by_the_stack_role(
    stack: Deployed, invoke: Callable[[dict[str, Any]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a first rotation made the secret; its old key is gone and the new one is due
    (old_key,) = _keys(stack.aws, USER)
    invoke({"action": "create", "username": USER})
    stack.aws.client("iam").delete_access_key(UserName=USER, AccessKeyId=old_key)
    (current,) = _keys(stack.aws, USER)
    stack.aws.backdate_key(USER, current, 85)
    # WHEN the next rotation checks the secret is keyturn's (DescribeSecret, GetResourcePolicy)
    with recorded_calls(monkeypatch) as recording:
        response = invoke({"action": "create", "username": USER})

    assert response["statusCode"] == 200
    actions = {call.action for call in recording.calls}
    assert "secretsmanager:GetResourcePolicy" in actions
    assert _denied(stack, recording) == []


def test_every_call_of_a_scheduled_run_is_allowed_by_the_stack_role(
    stack: Deployed, invoke: Callable[[dict[str, Any]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke({"action": "create", "username": USER})
    with recorded_calls(monkeypatch) as recording:
        invoke({"action": "run"})

    # the run finds its users by the credential report (the listing is the fallback)
    assert any(call.action == "iam:GetCredentialReport" for call in recording.calls)
    assert _denied(stack, recording) == []


def _user_of(call: Call, recording: Recording) -> str | None:
    if "UserName" in call.params:
        return str(call.params["UserName"])
    if "AccessKeyId" in call.params:
        return recording.key_owner[call.params["AccessKeyId"]]
    return None


def _resource(aws: EmbeddedAws, recording: Recording, call: Call) -> str | None:
    """The ARN IAM authorises `call` against; None for calls that need no permission."""
    if call.action == "sts:GetCallerIdentity":
        return None
    if call.service == "iam" or call.action == "secretsmanager:ListSecrets":
        user = _user_of(call, recording)  # None for listings: authorised on "*"
        if user is None:
            return "*"
        return str(aws.client("iam").get_user(UserName=user)["User"]["Arn"])
    if call.service == "secretsmanager":
        name = call.params.get("SecretId") or call.params["Name"]
        secrets = aws.client("secretsmanager")
        try:
            return str(secrets.describe_secret(SecretId=name)["ARN"])
        except secrets.exceptions.ResourceNotFoundException:
            # Looked up but never created: the ARN it would have, random suffix and all.
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
    if call.action == "sns:Publish":
        return str(call.params["TopicArn"])
    raise AssertionError(f"the audit does not know {call.action}: add it, or drop the call")


def _tags(aws: EmbeddedAws, call: Call, recording: Recording) -> dict[str, str]:
    user = _user_of(call, recording) if call.service == "iam" else None
    if user is None:
        return {}
    tags = aws.client("iam").list_user_tags(UserName=user)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def test_audit_catches_a_call_outside_the_role(stack: Deployed) -> None:
    """The audit itself can fail: a key action on a user out of scope is denied."""
    policy = stack.role_policy()
    outsider = f"arn:aws:iam::{ACCOUNT}:user/{OUTSIDER}"

    assert not allows(policy, "iam:CreateAccessKey", outsider)
    assert allows(policy, "iam:ListUserTags", outsider)
    assert not allows(
        policy,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other-AbCdEf",
    )
