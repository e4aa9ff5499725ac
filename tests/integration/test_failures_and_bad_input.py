"""Failures and bad input change nothing they should not: against moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from keyturn.emulator import EmbeddedAws
from keyturn.errors import ConfigurationError, PartialRotationError
from keyturn.handler import handle, lambda_handler
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.wiring import build_rotator
from tests.integration.helpers import (
    LambdaContext,
    event,
    keys_of,
    make_topic,
    make_user,
    world_state,
)


def failing(operation: str, code: str = "InternalFailure") -> Callable[..., Any]:
    """A before-call hook: the real client, the real error parsing, a 500 from 'AWS'."""

    def hook(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("https://injected", 500, HTTPHeaders(), None)
        parsed = {
            "Error": {"Code": code, "Message": f"injected into {operation}"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }
        return response, parsed

    return hook


def factory_with_fault(aws: EmbeddedAws, event_name: str) -> Callable[[Settings, str], Rotator]:
    def build(settings: Settings, run_id: str) -> Rotator:
        session = aws.session()
        session.events.register(event_name, failing(event_name))
        return build_rotator(settings, session=session, run_id=run_id)

    return build


def test_a_failed_secret_write_leaves_the_old_key_and_no_undelivered_key(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, issued_secrets: Callable[[], set[str]]
) -> None:
    # GIVEN a due user, and Secrets Manager failing every PutSecretValue
    topic = make_topic(aws)
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", topic)
    [old] = make_user(aws, "test", key_ages=(85,))
    build = factory_with_fault(aws, "before-call.secrets-manager.PutSecretValue")
    # WHEN the original event is handled, THEN it raises (so Lambda retries) ...
    with pytest.raises(PartialRotationError) as caught:
        handle(event("create"), "req-1", build)
    assert caught.value.cause.code == "InternalFailure"  # type: ignore[attr-defined]
    # ... the old key is untouched and the new key is gone again
    assert keys_of(aws, "test") == {old: "Active"}
    # ... nothing was stored as AWSCURRENT
    secrets = aws.client("secretsmanager")
    versions = secrets.list_secret_version_ids(SecretId="keyturn/test")["Versions"]
    assert versions == []
    # ... a failure notice went out, without any secret
    [sent] = aws.sent_notifications(topic)
    assert json.loads(sent.message)["Event"] == "failed"
    assert not any(s in sent.message for s in issued_secrets())
    # AND the retry (Lambda's) succeeds normally
    assert lambda_handler(event("create"), LambdaContext())["statusCode"] == 200
    assert len(keys_of(aws, "test")) == 2


def test_a_failed_deactivation_keeps_both_keys_and_the_stored_current(
    aws: EmbeddedAws,
) -> None:
    [old] = make_user(aws, "test", key_ages=(85,))
    build = factory_with_fault(aws, "before-call.iam.UpdateAccessKey")
    with pytest.raises(PartialRotationError) as caught:
        handle(event("create-grace0"), "req-1", build)
    assert caught.value.done[0].startswith("create")
    keys = keys_of(aws, "test")
    assert keys[old] == "Active"
    assert len(keys) == 2


BAD_EVENTS = [
    "not an object",
    ["create", "test"],
    {},
    {"action": "destroy", "username": "test"},
    {"action": "create"},
    {"action": "create", "username": ""},
    {"action": "create", "username": None},
    {"action": "create", "username": 7},
    {"action": "create", "username": "test", "grace_days": -3},
    {"action": "create", "username": "test", "grace_days": "0"},
    {"action": "create", "username": "test", "surprise": True},
    {"action": "plan", "at": "next tuesday"},
]


@pytest.mark.parametrize("bad", BAD_EVENTS, ids=repr)
def test_bad_events_answer_400_and_change_nothing(aws: EmbeddedAws, bad: object) -> None:
    make_user(aws, "test", key_ages=(85,))
    before = world_state(aws)
    response = lambda_handler(bad, LambdaContext())
    assert response["statusCode"] == 400
    assert response["error"]
    assert world_state(aws) == before


def test_an_unknown_user_answers_404_and_changes_nothing(aws: EmbeddedAws) -> None:
    make_user(aws, "test", key_ages=(85,))
    before = world_state(aws)
    response = lambda_handler({"action": "create", "username": "nobody"}, LambdaContext())
    assert response == {"statusCode": 404, "error": "IAM user 'nobody' does not exist"}
    assert world_state(aws) == before


def test_two_active_keys_answer_409_and_change_nothing(aws: EmbeddedAws) -> None:
    make_user(aws, "test", key_ages=(95, 20))
    before = world_state(aws)
    response = lambda_handler(event("create"), LambdaContext())
    assert response["statusCode"] == 409
    assert "two active keys" in response["error"]
    assert world_state(aws) == before


def test_misconfiguration_fails_loudly(
    aws: EmbeddedAws,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad setting answers from ConfigurationError's own status (400), changes nothing, is
    logged as an error and counted as a failed rotation, so the failure alarm fires."""
    monkeypatch.setenv("KEYTURN_GRACE_DAYS", "a week")
    before = world_state(aws)
    answer = lambda_handler(event("run"), LambdaContext())
    assert answer["statusCode"] == ConfigurationError.status_code == 400
    assert "KEYTURN_GRACE_DAYS" in answer["error"]
    assert world_state(aws) == before
    assert any(r.levelname == "ERROR" and r.name == "keyturn" for r in caplog.records)
    assert '"RotationsFailed"' in capsys.readouterr().out


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self._data]


THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)


def test_throttling_is_retried_by_botocore_not_by_keyturn(aws: EmbeddedAws) -> None:
    # GIVEN IAM throttles the first two CreateAccessKey requests on the wire
    make_user(aws, "test", key_ages=(85,))
    attempts: list[int] = []

    def throttle_twice(**_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) <= 2:
            return AWSResponse("https://injected", 400, HTTPHeaders(), _Body(THROTTLED))
        return None

    def build(settings: Settings, run_id: str) -> Rotator:
        session = aws.session()
        # A before-send hook may answer in the send's place; botocore's stubs say None.
        session.events.register("before-send.iam.CreateAccessKey", throttle_twice)  # type: ignore[arg-type]
        return build_rotator(settings, session=session, run_id=run_id)

    # WHEN the event is handled, THEN botocore's standard retry mode carries it through
    assert handle(event("create"), "req-1", build)["statusCode"] == 200
    assert len(attempts) == 3
    assert len(keys_of(aws, "test")) == 2
