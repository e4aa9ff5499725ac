"""The original recipe's event, end to end through the Lambda handler against moto server."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import (
    LambdaContext,
    current_secret,
    event,
    keys_of,
    make_topic,
    make_user,
)


@pytest.fixture
def topic(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = make_topic(aws)
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", arn)
    return arn


def test_create_event_leaves_the_old_key_active_and_delivers_the_new_one(
    aws: EmbeddedAws,
    topic: str,
    aws_cli: Callable[..., object],
    issued_secrets: Callable[[], set[str]],
) -> None:
    # GIVEN the original recipe's user with one key past its rotation age
    [old] = make_user(aws, "test", key_ages=(85,))
    # WHEN the original event arrives
    response = lambda_handler(event("create"), LambdaContext())
    # THEN two keys: the old one still active, the new one AWSCURRENT in keyturn/test
    assert response["statusCode"] == 200
    keys = keys_of(aws, "test")
    assert keys[old] == "Active"
    [new] = set(keys) - {old}
    assert keys[new] == "Active"
    assert current_secret(aws, "test")["AccessKeyId"] == new
    assert sorted(row["AccessKeyId"] for row in response["body"]) == sorted(keys)
    assert {row["status"] for row in response["body"]} == {"Active"}
    # AND an independent client (the AWS CLI) reads the delivered key
    read = aws_cli(
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "keyturn/test",
        "--version-stage",
        "AWSCURRENT",
    )
    assert isinstance(read, dict)
    assert json.loads(read["SecretString"])["AccessKeyId"] == new
    # AND the notification points at the secret but never carries it
    [sent] = aws.sent_notifications(topic)
    body = json.loads(sent.message)
    assert body["Event"] == "rotated"
    assert body["NewAccessKeyId"] == new
    assert body["SecretName"] == "keyturn/test"
    assert not any(secret in sent.message for secret in issued_secrets())
    # AND the response carries no secret either
    assert not any(secret in json.dumps(response) for secret in issued_secrets())


def test_grace_days_zero_retires_the_old_key_in_the_same_invocation(aws: EmbeddedAws) -> None:
    [old] = make_user(aws, "test", key_ages=(85,))
    response = lambda_handler(event("create-grace0"), LambdaContext())
    assert response["statusCode"] == 200
    keys = keys_of(aws, "test")
    assert old not in keys
    [new] = keys
    assert keys[new] == "Active"
    assert current_secret(aws, "test")["AccessKeyId"] == new
    assert [row["AccessKeyId"] for row in response["body"]] == [new]


def test_the_same_event_twice_adds_no_key(aws: EmbeddedAws) -> None:
    make_user(aws, "test", key_ages=(85,))
    first = lambda_handler(event("create"), LambdaContext())
    second = lambda_handler(event("create"), LambdaContext(aws_request_id="req-0002"))
    assert first["statusCode"] == second["statusCode"] == 200
    assert len(keys_of(aws, "test")) == 2
    assert second["status"] == "unchanged"
    assert "not rotating again" in second["message"]


def test_the_same_event_with_grace_zero_twice_adds_no_key(aws: EmbeddedAws) -> None:
    make_user(aws, "test", key_ages=(85,))
    lambda_handler(event("create-grace0"), LambdaContext())
    after_first = keys_of(aws, "test")
    lambda_handler(event("create-grace0"), LambdaContext(aws_request_id="req-0002"))
    assert keys_of(aws, "test") == after_first


def test_a_user_without_keys_gets_one(aws: EmbeddedAws) -> None:
    make_user(aws, "test")
    response = lambda_handler(event("create"), LambdaContext())
    [new] = keys_of(aws, "test")
    assert current_secret(aws, "test")["AccessKeyId"] == new
    assert response["body"][0]["AccessKeyId"] == new


def test_restore_event_undoes_a_rotation(aws: EmbeddedAws) -> None:
    make_user(aws, "test")
    lambda_handler(event("create"), LambdaContext())  # first key, delivered by keyturn
    [first] = keys_of(aws, "test")
    aws.backdate_key("test", first, 85)
    lambda_handler(event("create"), LambdaContext(aws_request_id="req-0002"))
    assert current_secret(aws, "test")["AccessKeyId"] != first
    response = lambda_handler(event("restore"), LambdaContext(aws_request_id="req-0003"))
    assert response["statusCode"] == 200
    assert current_secret(aws, "test")["AccessKeyId"] == first
