"""A fleet run names its account everywhere: audit events, notifications, metrics, results."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from keyturn.aws.events import event_entry
from keyturn.aws.sns import message_attributes
from keyturn.core.rollout import Mode
from keyturn.fleet import worker
from keyturn.fleet.messages import WorkItem
from keyturn.rotation.metrics import run_counts
from keyturn.rotation.ports import AccountNotifier, Notification, NotificationKind
from keyturn.rotation.results import Status
from keyturn.rotation.rotator import Rotator
from keyturn.testing import FakeAws
from tests.unit.test_fleet_parts import sqs_event

A, B = "111111111111", "222222222222"


def refused_in(account_id: str) -> tuple[FakeAws, Rotator]:
    """An account whose user ``twin`` has two active keys (keyturn refuses it), and a rotator
    there wired as the fleet wires one."""
    world = FakeAws()
    world.iam.add_user("twin")
    world.iam.add_key("twin", age_days=95)
    world.iam.add_key("twin", age_days=30)
    notifier = AccountNotifier(world.notifier, account_id)
    rotator = Rotator(
        world.iam,
        world.iam,
        world.secrets,
        notifier,
        world.clock,
        world.settings,
        account_id=account_id,
    )
    return world, rotator


def test_two_accounts_refusals_of_same_named_users_differ(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="keyturn.audit")
    sent = []
    for account_id in (A, B):
        world, rotator = refused_in(account_id)
        assert rotator.run().users[0].status is Status.REFUSED
        (notice,) = world.notifier.sent
        sent.append(notice)
    first, second = sent
    assert first.kind is second.kind is NotificationKind.REFUSED
    assert first != second
    assert (first.account_id, second.account_id) == (A, B)
    assert (first.body["AccountId"], second.body["AccountId"]) == (A, B)
    assert first.subject == f"keyturn [{A}]: refused to rotate twin's key"
    audited = [(r.getMessage(), getattr(r, "account", None)) for r in caplog.records]
    assert [account for _, account in audited] == [A, B]
    assert audited[0][0] == f"keyturn refuse twin in {A}: done"


def test_a_single_account_notice_and_audit_event_name_no_account(
    world: FakeAws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="keyturn.audit")
    world.iam.add_user("twin")
    world.iam.add_key("twin", age_days=95)
    world.iam.add_key("twin", age_days=30)
    world.rotator().run()
    (notice,) = world.notifier.sent
    assert notice.account_id is None
    assert "AccountId" not in notice.body
    assert notice.subject.startswith("keyturn: ")
    assert all(not hasattr(r, "account") for r in caplog.records)


def test_sns_attributes_and_eventbridge_details_carry_the_account() -> None:
    world, rotator = refused_in(A)
    rotator.run()
    (notice,) = world.notifier.sent
    assert message_attributes(notice)["account"] == {"DataType": "String", "StringValue": A}
    assert json.loads(event_entry(notice, "keyturn")["Detail"])["AccountId"] == A
    unstamped = Notification(notice.kind, "twin", "keyturn: s", {})
    assert "account" not in message_attributes(unstamped)


def test_a_long_subject_keeps_the_account_and_sns_limit() -> None:
    long = Notification(NotificationKind.FAILED, "u", "keyturn: " + "x" * 120, {}).in_account(B)
    assert long.subject.startswith(f"keyturn [{B}]: ")
    assert len(long.subject) < 100


def test_run_counts_name_the_handlers_metrics() -> None:
    world, rotator = refused_in(A)
    world.iam.add_user("due")
    world.iam.add_key("due", age_days=95)
    users = rotator.run().users
    assert run_counts(users) == {"RotationsRefused": 1, "KeysRotated": 1}


@dataclass
class TwoAccountFleet:
    """Covers A and B; in each, user ``twin`` is refused."""

    worlds: dict[str, FakeAws] = field(default_factory=dict)

    def account_ids(self) -> list[str]:
        return [A, B]

    def mode_of(self, account_id: str) -> Mode:
        del account_id
        return Mode.ACT

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        del user_names, run_id, mode
        world, rotator = refused_in(account_id)
        self.worlds[account_id] = world
        return rotator


def test_the_worker_emits_the_handlers_metrics_with_the_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fleet = TwoAccountFleet()
    worker.metrics.clear_metrics()
    bodies = [WorkItem(a, "twin", "run").to_body() for a in (A, B)]
    processed = worker.handle(sqs_event(*bodies), None, fleet)  # type: ignore[arg-type]
    assert processed == {"batchItemFailures": []}
    # aggregated, for the fleet's alarm (dimension service=keyturn-worker) ...
    aggregated: dict[str, Any] = dict(worker.metrics.serialize_metric_set())
    assert aggregated["RotationsRefused"] == [1.0, 1.0]
    assert aggregated["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert aggregated["service"] == "keyturn-worker"
    worker.metrics.clear_metrics()
    # ... and once per account with the account as a dimension
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    per_account = {(b["account"], b["RotationsRefused"][0]) for b in blobs}
    assert per_account == {(A, 1.0), (B, 1.0)}
    assert {tuple(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for b in blobs} == {
        ("service", "account")
    }


def test_each_record_result_names_its_account(caplog: pytest.LogCaptureFixture) -> None:
    fleet = TwoAccountFleet()
    (record,) = sqs_event(WorkItem(B, "twin", "run").to_body())["Records"]
    assert worker.work(fleet, SQSRecord(record)) == f"{B} twin: refused"  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger=worker.SERVICE)
    worker.handle(sqs_event(WorkItem(A, "twin", "run").to_body()), None, fleet)  # type: ignore[arg-type]
    (batch,) = [r for r in caplog.records if r.getMessage() == "batch worked"]
    assert (getattr(batch, "results", None), getattr(batch, "failed", None)) == (
        [f"{A} twin: refused"],
        0,
    )
    worker.metrics.clear_metrics()
