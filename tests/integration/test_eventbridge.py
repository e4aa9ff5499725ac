"""Lifecycle events on EventBridge reach an SQS target through a rule (issue 11.5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, event, keys_of, make_topic, make_user

BUS = "ops-bus"


@pytest.fixture
def ticket_queue(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bus with a rule sending every keyturn event to an SQS queue; the queue's URL."""
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name=BUS)
    url = str(sqs.create_queue(QueueName="keyturn-tickets")["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="keyturn-to-tickets",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["keyturn"]}),
    )
    events.put_targets(
        Rule="keyturn-to-tickets", EventBusName=BUS, Targets=[{"Id": "tickets", "Arn": queue_arn}]
    )
    monkeypatch.setenv("KEYTURN_EVENT_BUS", BUS)
    return url


def received(aws: EmbeddedAws, url: str) -> list[dict[str, Any]]:
    answer = aws.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_a_rotation_reaches_the_ticket_queue_without_the_secret(
    aws: EmbeddedAws,
    ticket_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    issued_secrets: Callable[[], set[str]],
) -> None:
    # GIVEN SNS with the secret opted in, and the bus routed to the ticket queue
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", make_topic(aws))
    monkeypatch.setenv("KEYTURN_NOTIFY_INCLUDE_SECRET", "true")
    [old] = make_user(aws, "test", key_ages=(85,))
    # WHEN the original event rotates the user's key
    response = lambda_handler(event("create"), LambdaContext())
    assert response["statusCode"] == 200
    [new] = set(keys_of(aws, "test")) - {old}
    # THEN the queue holds one "keyturn rotated" event with the documented detail
    [message] = received(aws, ticket_queue)
    assert message["source"] == "keyturn"
    assert message["detail-type"] == "keyturn rotated"
    detail = message["detail"]
    assert detail["Event"] == "rotated"
    assert detail["UserName"] == "test"
    assert detail["SecretName"] == "keyturn/test"
    assert detail["SecretArn"] in message["resources"]
    assert detail["NewAccessKeyId"] == new
    assert detail["PreviousAccessKeyId"] == old
    # AND never the secret, although the SNS message carries it by opt-in
    assert "SecretAccessKey" not in detail
    assert not any(secret in json.dumps(message) for secret in issued_secrets())


def test_a_refusal_is_an_event_too(aws: EmbeddedAws, ticket_queue: str) -> None:
    make_user(aws, "test", key_ages=(85, 85))  # two active keys keyturn did not create
    response = lambda_handler(event("create"), LambdaContext())
    assert response["statusCode"] == 409
    [message] = received(aws, ticket_queue)
    assert message["detail-type"] == "keyturn refused"
    assert message["detail"]["Reason"]
