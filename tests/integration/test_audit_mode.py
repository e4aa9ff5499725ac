"""Audit mode on the moto server makes no mutating call: proved by counting every call.

A botocore ``before-call`` hook on every client made during the test records each operation.
Any operation that is not a read (Get*, List*, Describe*, GenerateCredentialReport,
GetCallerIdentity) or a notification (Publish, PutEvents) counts as mutating, and audit mode
must make none: for the scheduled run, the original recipe's event, the CLI and a fleet worker
message. Each test also shows it made reads, so the count cannot pass by calling nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.session import Session as BotocoreSession
from click.testing import CliRunner

from keyturn.cli import cli
from keyturn.core.rollout import Mode
from keyturn.emulator import EmbeddedAws
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.worker import handle as work
from keyturn.handler import handle, lambda_handler, metrics
from keyturn.wiring import forget_clients
from tests.integration.fleet_world import build_org, receive, sqs_event
from tests.integration.helpers import LambdaContext, event, make_topic, make_user, world_state

NOT_MUTATING = frozenset({"GenerateCredentialReport", "GetCallerIdentity", "Publish", "PutEvents"})


def mutating(operation: str) -> bool:
    return not operation.startswith(("Get", "List", "Describe")) and operation not in NOT_MUTATING


@dataclass
class Calls:
    """The operations made while :meth:`counting` runs, as ``(service, operation)``."""

    made: list[tuple[str, str]] = field(default_factory=list)
    on: bool = False

    def record(self, model: Any, **_: Any) -> None:
        if self.on:
            self.made.append((model.service_model.service_name, model.name))

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False

    @property
    def mutating(self) -> list[tuple[str, str]]:
        return [c for c in self.made if mutating(c[1])]

    @property
    def reads(self) -> list[tuple[str, str]]:
        return [c for c in self.made if not mutating(c[1])]


@pytest.fixture
def calls(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Every botocore client made from now on reports its calls (keyturn's reused clients are
    dropped first, so its next ones are made here)."""
    del aws
    forget_clients()
    seen = Calls()
    create = BotocoreSession.create_client

    def hooked(self: BotocoreSession, *args: Any, **kwargs: Any) -> Any:
        client = create(self, *args, **kwargs)
        client.meta.events.register("before-call", seen.record)
        return client

    monkeypatch.setattr(BotocoreSession, "create_client", hooked)
    yield seen
    forget_clients()


@pytest.fixture
def deployed(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """A deployment with a topic; ``mode(name)`` switches KEYTURN_MODE."""
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", make_topic(aws))

    def mode(name: str) -> None:
        monkeypatch.setenv("KEYTURN_MODE", name)

    return mode


def a_world(aws: EmbeddedAws, deployed: Callable[[str], None]) -> None:
    """``test`` rotated once already (it has a secret, two keys), ``due`` has an 85-day key,
    ``stuck`` two foreign active keys (refused), ``fresh`` a new key."""
    make_user(aws, "test", key_ages=(85,))
    deployed("act")
    assert lambda_handler(event("create"), LambdaContext())["statusCode"] == 200
    tagged = {"keyturn:managed": "true"}
    make_user(aws, "due", key_ages=(85,), tags=tagged)
    make_user(aws, "stuck", key_ages=(95, 20), tags=tagged)
    make_user(aws, "fresh", key_ages=(3,), tags=tagged)


def test_a_scheduled_run_in_audit_mode_makes_no_mutating_call(
    aws: EmbeddedAws, deployed: Callable[[str], None], calls: Calls
) -> None:
    with calls.counting():  # the control: acting, the same hooks see keyturn's writes
        a_world(aws, deployed)
    assert ("secretsmanager", "CreateSecret") in calls.mutating
    calls.made.clear()
    deployed("audit")
    before = world_state(aws)
    topic = os.environ["KEYTURN_TOPIC_ARN"]
    sent_before = len(aws.sent_notifications(topic))
    with calls.counting():
        answer = handle(event("scheduled"), "req-audit")
    assert calls.mutating == []
    assert ("iam", "ListAccessKeys") in calls.reads
    assert ("sns", "Publish") in calls.reads
    assert world_state(aws) == before
    body = answer["body"]
    assert body["mode"] == "audit"
    status = {u["UserName"]: (u["status"], u["mode"]) for u in body["users"]}
    assert status["due"] == ("planned", "audit")
    assert status["stuck"] == ("refused", "audit")
    sent = [json.loads(m.message) for m in aws.sent_notifications(topic)[sent_before:]]
    assert {(m["Event"], m["UserName"], m["Mode"]) for m in sent} == {
        ("audited", "due", "audit"),
        ("refused", "stuck", "audit"),
    }


def test_the_recipe_event_in_audit_mode_answers_what_it_would_do(
    aws: EmbeddedAws, deployed: Callable[[str], None], calls: Calls
) -> None:
    make_user(aws, "test", key_ages=(85,))
    deployed("audit")
    before = world_state(aws)
    with calls.counting():
        answer = handle(event("create"), "req-create")
    assert calls.mutating == []
    assert ("iam", "GetUser") in calls.reads
    assert world_state(aws) == before
    assert (answer["statusCode"], answer["status"], answer["mode"]) == (200, "planned", "audit")
    assert "would create" in answer["message"]


@pytest.mark.parametrize("flags", [("--mode", "audit", "run"), ("run", "--audit")])
def test_the_cli_run_in_audit_mode_makes_no_mutating_call(
    aws: EmbeddedAws, calls: Calls, flags: tuple[str, ...]
) -> None:
    make_user(aws, "due", key_ages=(85,), tags={"keyturn:managed": "true"})
    before = world_state(aws)
    with calls.counting():
        result = CliRunner().invoke(
            cli, ["--endpoint-url", aws.url, "--region", aws.region, "--output", "json", *flags]
        )
    assert result.exit_code == 0, result.output
    assert calls.mutating == []
    assert ("iam", "GetCredentialReport") in calls.reads  # the report-driven run did read
    assert world_state(aws) == before
    [user] = json.loads(result.output)["users"]
    assert (user["status"], user["mode"]) == ("planned", "audit")


def test_a_fleet_worker_message_in_audit_mode_makes_no_mutating_call(
    aws: EmbeddedAws, calls: Calls
) -> None:
    org = build_org(aws)
    prod = org.accounts["prod"]
    item = WorkItem(prod, "prod-due", "run-audit", Mode.AUDIT)
    aws.client("sqs").send_message(QueueUrl=org.queue_url, MessageBody=item.to_body())
    messages = receive(org)
    fleet = org.fleet()
    fleet.account(prod)  # the member role's session (AssumeRole) before the count starts
    keys_before = org.iam("prod").list_access_keys(UserName="prod-due")["AccessKeyMetadata"]
    with calls.counting():
        answer = work(sqs_event(org, messages), None, fleet)
    assert answer == {"batchItemFailures": []}
    assert calls.mutating == []
    assert ("iam", "ListAccessKeys") in calls.reads
    keys_after = org.iam("prod").list_access_keys(UserName="prod-due")["AccessKeyMetadata"]
    assert keys_after == keys_before
    secrets = org.member("prod").client("secretsmanager", endpoint_url=aws.url)
    assert secrets.list_secrets()["SecretList"] == []


def test_an_unknown_user_in_the_recipe_event_is_notified_and_counted(
    aws: EmbeddedAws, deployed: Callable[[str], None]
) -> None:
    deployed("act")
    topic = os.environ["KEYTURN_TOPIC_ARN"]
    metrics.clear_metrics()
    answer = handle({"action": "create", "username": "nosuch"}, "req-nosuch")
    assert answer == {"statusCode": 404, "error": "IAM user 'nosuch' does not exist"}
    [sent] = [json.loads(m.message) for m in aws.sent_notifications(topic)]
    assert (sent["Event"], sent["UserName"]) == ("refused", "nosuch")
    assert metrics.metric_set["RotationsRefused"]["Value"] == [1.0]
    metrics.clear_metrics()
