"""Fleet pieces without AWS: messages, account rules, settings, the dispatcher's failure path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from keyturn.core.credential_report import Candidate, LookReason, ReportRow
from keyturn.core.rollout import Mode
from keyturn.errors import AwsError, BadRequestError, ConfigurationError
from keyturn.fleet import worker
from keyturn.fleet.accounts import AccountFilter, OrgAccount
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.report_scan import ReportSelection, in_scope
from keyturn.fleet.settings import FleetSettings
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope
from keyturn.testing import FakeAws

A, B, C = "111111111111", "222222222222", "333333333333"


def test_a_work_item_survives_its_message_body() -> None:
    item = WorkItem(A, "app.user@team", "run")
    assert WorkItem.from_body(item.to_body()) == item


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "[]",
        '{"account_id": 1, "user_name": "u"}',
        '{"account_id": "12", "user_name": "u"}',
        '{"account_id": "111111111111", "user_name": "bad/name"}',
    ],
)
def test_a_poison_body_is_a_bad_request(body: str) -> None:
    with pytest.raises(BadRequestError):
        WorkItem.from_body(body)


@pytest.mark.parametrize(
    ("account_id", "user_name", "run_id"),
    [
        (A + "\n", "app", "run"),
        ("\n" + A, "app", "run"),
        ("\uff11" * 12, "app", "run"),
        ("\u0661" * 12, "app", "run"),
        ("\u0967" * 12, "app", "run"),
        (A + "1", "app", "run"),
        (A, "app\n", "run"),
        (A, "app\u00e9", "run"),
        (A, "\u0430pp", "run"),  # Cyrillic a
        (A, "app\u0661", "run"),
        (A, "a" * 65, "run"),
        (A, "app", "run\nforged: line"),
        (A, "app", "r" * 65),
    ],
)
def test_work_item_ids_are_whole_ascii_strings(
    account_id: str, user_name: str, run_id: str
) -> None:
    with pytest.raises(BadRequestError):
        WorkItem(account_id, user_name, run_id)


def test_every_character_iam_allows_in_a_name_is_accepted() -> None:
    name = "Az09+=,.@_-"
    item = WorkItem(A, name, "4b1c6f7e-0000-4000-8000-000000000002")
    assert WorkItem.from_body(item.to_body()) == item


def accounts() -> list[OrgAccount]:
    return [
        OrgAccount(A, parents=("r-1", "ou-work", "ou-prod")),
        OrgAccount(B, parents=("r-1", "ou-sandbox")),
        OrgAccount(C, parents=("r-1",), status="SUSPENDED"),
    ]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (AccountFilter(), [A, B]),
        (AccountFilter(include_ous=frozenset({"ou-work"})), [A]),
        (AccountFilter(exclude_ous=frozenset({"ou-prod"})), [B]),
        (AccountFilter(include_accounts=frozenset({C})), []),
        (AccountFilter(include_accounts=frozenset({B}), exclude_accounts=frozenset({B})), []),
    ],
)
def test_account_rules(rules: AccountFilter, expected: list[str]) -> None:
    assert [a.account_id for a in rules.select(accounts())] == expected


def test_fleet_settings_from_the_environment() -> None:
    env = {
        "KEYTURN_ORGANIZATION": "true",
        "KEYTURN_INCLUDE_OUS": "ou-a, ou-b",
        "KEYTURN_EXCLUDE_ACCOUNTS": A,
        "KEYTURN_MEMBER_ROLE_NAME": "rotator",
        "KEYTURN_SCAN_HORIZON_DAYS": "30",
    }
    fleet = FleetSettings.from_env(env)
    assert fleet.organization
    assert fleet.accounts.include_ous == {"ou-a", "ou-b"}
    assert fleet.accounts.exclude_accounts == {A}
    assert (fleet.member_role_name, fleet.horizon(80)) == ("rotator", 30)
    assert FleetSettings.from_env({}).horizon(80) == 80
    with pytest.raises(ConfigurationError):
        FleetSettings.from_env({"KEYTURN_SCAN_HORIZON_DAYS": "soon"})


@dataclass
class ListQueue:
    sent: list[WorkItem] = field(default_factory=list)

    def send(self, items: Sequence[WorkItem]) -> list[WorkItem]:
        self.sent.extend(items)
        return []


@dataclass
class FakeFleet:
    queue_: ListQueue = field(default_factory=ListQueue)

    started: list[str] = field(default_factory=list)

    def account_ids(self) -> list[str]:
        return [A, B, C]

    def start_reports(self, account_ids: Sequence[str]) -> None:
        self.started.extend(account_ids)

    def candidates(self, account_id: str) -> list[str]:
        if account_id == B:
            raise AwsError("AssumeRole", "AccessDenied", "no member role")
        return ["app"]

    def queue(self) -> ListQueue:
        return self.queue_

    def mode_of(self, account_id: str) -> Mode:
        del account_id
        return Mode.ACT

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        raise NotImplementedError


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"h{n}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


@dataclass
class CoveringFleet(FakeFleet):
    """Covers only account A; records who the worker asked for and each listing."""

    listings: int = 0
    rotated: list[str] = field(default_factory=list)
    listing_error: AwsError | None = None

    def account_ids(self) -> list[str]:
        self.listings += 1
        if self.listing_error is not None:
            raise self.listing_error
        return [A]

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        del run_id, mode
        self.rotated.append(account_id)
        aws = FakeAws()
        for name in user_names:
            aws.iam.add_user(name)
        return aws.rotator()


def body(account_id: str) -> str:
    return WorkItem(account_id, "app", "run").to_body()


def test_the_worker_refuses_messages_for_accounts_the_fleet_does_not_cover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fleet = CoveringFleet()
    caplog.set_level(logging.INFO, logger="keyturn.audit")
    worker.metrics.clear_metrics()
    response = worker.handle(sqs_event(body(B), body(A), body(C)), None, fleet)
    # refused messages are acknowledged (not failed), and nothing is asked of their accounts
    assert response == {"batchItemFailures": []}
    assert fleet.rotated == [A]
    assert fleet.listings == 1, "the accounts are listed once per invocation"
    refused = [r for r in caplog.records if getattr(r, "outcome", None) == "refused"]
    assert [(getattr(r, "account", None), getattr(r, "message_id", None)) for r in refused] == [
        (B, "m0"),
        (C, "m2"),
    ]
    assert worker.metrics.metric_set["FleetMessagesRefused"]["Value"] == [2.0]
    worker.metrics.clear_metrics()
    worker.handle(sqs_event(body(A)), None, fleet)
    assert fleet.listings == 2, "and again on the next invocation"
    assert worker.metrics.metric_set["FleetMessagesRefused"]["Value"] == [0.0]
    worker.metrics.clear_metrics()


def test_when_the_accounts_cannot_be_listed_every_message_fails_and_nothing_runs() -> None:
    fleet = CoveringFleet(listing_error=AwsError("ListRoots", "AccessDenied", "no"))
    response = worker.handle(sqs_event(body(A), body(B)), None, fleet)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert fleet.rotated == []
    worker.metrics.clear_metrics()


def test_one_failing_account_does_not_stop_the_others() -> None:
    fleet = FakeFleet()
    result = dispatch(fleet, "run")
    assert [(i.account_id, i.user_name) for i in fleet.queue_.sent] == [(A, "app"), (C, "app")]
    assert [a.account_id for a in result.failed] == [B]
    assert fleet.started == [A, B, C]
    assert result.as_dict()["enqueued"] == 2


def test_scope_reads_tags_only_where_path_and_name_do_not_tell() -> None:
    def candidate(name: str, path: str) -> Candidate:
        arn = f"arn:aws:iam::{A}:user{path}{name}"
        return Candidate(ReportRow(name, arn, None, ()), LookReason.NO_KEY)

    selection = ReportSelection(
        4,
        [
            candidate("svc", "/keyturn/"),
            candidate("named", "/"),
            candidate("tagged", "/"),
            candidate("other", "/"),
        ],
        in_flight_only=["new"],
    )
    asked: list[str] = []

    def tags_of(name: str) -> dict[str, str]:
        asked.append(name)
        return {"keyturn:managed": "true"} if name == "tagged" else {}

    scope = Scope(user_path="/keyturn/", user_names=frozenset({"named"}), manage_tagged=True)
    assert in_scope(selection, scope, tags_of) == ["svc", "named", "tagged", "new"]
    assert asked == ["tagged", "other"]
    # Without tag opt-in the tag counts for nothing, so it is not even read.
    asked.clear()
    untagged = Scope(user_path="/keyturn/", user_names=frozenset({"named"}))
    assert in_scope(selection, untagged, tags_of) == ["svc", "named", "new"]
    assert asked == []
