"""No secret in logs (even at DEBUG, even botocore's), notifications or responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, event, make_topic, make_user


def test_debug_logging_never_shows_a_secret(
    aws: EmbeddedAws,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    issued_secrets: Callable[[], set[str]],
) -> None:
    # GIVEN a user who asked for everything at DEBUG, botocore included
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", make_topic(aws))
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    make_user(aws, "test", key_ages=(85,))
    # WHEN a full lifecycle runs
    responses = [
        lambda_handler(event("create-grace0"), LambdaContext()),
        lambda_handler(event("run"), LambdaContext(aws_request_id="r2")),
    ]
    # THEN no issued secret is in any log record, stdout line, response or notification
    secrets = issued_secrets()
    assert secrets
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    printed = capsys.readouterr()
    sent = json.dumps([m.message for m in aws.sent_notifications(make_topic_arn(aws))])
    everything = logged + printed.out + printed.err + json.dumps(responses) + sent
    assert "CreateAccessKey" in logged or "keyturn create" in everything
    assert not [s for s in secrets if s in everything]


def test_opt_in_puts_the_secret_in_the_notification_and_warns(
    aws: EmbeddedAws,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    issued_secrets: Callable[[], set[str]],
) -> None:
    topic = make_topic(aws)
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", topic)
    monkeypatch.setenv("KEYTURN_NOTIFY_INCLUDE_SECRET", "true")
    make_user(aws, "test", key_ages=(85,))
    lambda_handler(event("create"), LambdaContext())
    [sent] = aws.sent_notifications(topic)
    body = json.loads(sent.message)
    assert body["SecretAccessKey"] in issued_secrets()
    printed = capsys.readouterr().out
    assert "KEYTURN_NOTIFY_INCLUDE_SECRET is on" in printed + caplog.text
    assert body["SecretAccessKey"] not in printed + caplog.text


def make_topic_arn(aws: EmbeddedAws) -> str:
    return str(aws.client("sns").create_topic(Name="keyturn-notifications")["TopicArn"])
