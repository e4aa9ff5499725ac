"""Fleet pieces without AWS: messages, account rules, settings, the dispatcher's failure path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from keyturn.core.credential_report import Candidate, LookReason, ReportRow
from keyturn.errors import AwsError, BadRequestError, ConfigurationError
from keyturn.fleet.accounts import AccountFilter, OrgAccount
from keyturn.fleet.dispatcher import dispatch
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.report_scan import ReportSelection, in_scope
from keyturn.fleet.settings import FleetSettings
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope

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

    def user_rotator(self, account_id: str, user_names: Sequence[str], run_id: str) -> Rotator:
        raise NotImplementedError


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

    scope = Scope(user_path="/keyturn/", user_names=frozenset({"named"}))
    assert in_scope(selection, scope, tags_of) == ["svc", "named", "tagged", "new"]
    assert asked == ["tagged", "other"]
