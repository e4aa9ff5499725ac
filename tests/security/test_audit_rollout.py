"""Attacks on audit-only mode and staged rollout: moving a user or an account from audit to act.

Whoever may tag a user (``iam:TagUser``) or send to the fleet's queue must not be able to make
keyturn change keys the operator left in audit mode. In-memory fakes; the moto-server proof
that audit mode makes no mutating call is in tests/integration/test_audit_mode.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from keyturn.core.rollout import Mode, Rollout
from keyturn.errors import BadRequestError
from keyturn.fleet import worker
from keyturn.fleet.messages import WorkItem
from keyturn.rotation.results import Status
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

ACCOUNT = "111111111111"
EVERYONE = Scope(user_path="/")
SELF_TAGS = (
    {"keyturn:managed": "true"},
    {"keyturn:act": "true"},
    {"keyturn:mode": "act"},
    {"rollout": "act"},
)


@pytest.mark.attack("rollout: a user tags itself to be acted on while tag rollout is off")
@pytest.mark.parametrize("tags", SELF_TAGS)
def test_no_tag_moves_a_user_to_act_unless_the_operator_named_it(tags: dict[str, str]) -> None:
    # GIVEN a staged rollout by path only; the attacker's user is elsewhere and tags itself
    aws = FakeAws()
    aws.iam.add_user("intruder", tags=tags)
    aws.iam.add_key("intruder", age_days=85)
    settings = Settings(scope=EVERYONE, rollout=Rollout(user_paths=("/pilot/",)))
    # WHEN keyturn runs
    [result] = aws.rotator(settings).run().users
    # THEN the user is only audited: nothing changed
    assert (result.status, result.mode) == (Status.PLANNED, Mode.AUDIT)
    assert len(aws.key_ids("intruder")) == 1


@pytest.mark.attack("rollout: the operator's own act tag while KEYTURN_MODE=audit")
def test_audit_mode_ignores_every_rollout_rule() -> None:
    aws = FakeAws()
    aws.iam.add_user("tagged", path="/pilot/", tags={"rollout": "act"})
    aws.iam.add_key("tagged", age_days=85)
    rollout = Rollout(frozenset({"tagged"}), ("/pilot/",), ("rollout", "act"))
    settings = Settings(scope=EVERYONE, mode=Mode.AUDIT, rollout=rollout)
    [result] = aws.rotator(settings).run().users
    assert (result.status, result.mode) == (Status.PLANNED, Mode.AUDIT)
    assert len(aws.key_ids("tagged")) == 1


@dataclass
class AuditedFleet:
    """A fleet whose settings audit its one account; records the mode the worker asked for."""

    aws: FakeAws = field(default_factory=FakeAws)
    modes: list[Mode] = field(default_factory=list)

    def account_ids(self) -> list[str]:
        return [ACCOUNT]

    def start_reports(self, account_ids: Sequence[str]) -> None:
        del account_ids

    def candidates(self, account_id: str) -> list[str]:
        del account_id
        return ["app"]

    def queue(self) -> Any:
        raise NotImplementedError

    def mode_of(self, account_id: str) -> Mode:
        del account_id
        return Mode.AUDIT

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        del account_id, user_names, run_id
        self.modes.append(mode)
        return self.aws.rotator(Settings(scope=EVERYONE, mode=mode))


def record(body: str) -> dict[str, Any]:
    return {
        "messageId": "m0",
        "receiptHandle": "h0",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
        "awsRegion": "us-east-1",
    }


@pytest.mark.attack("rollout: a forged fleet message asks to act in an audited account")
def test_a_message_never_upgrades_an_audited_account_to_act(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fleet = AuditedFleet()
    fleet.aws.iam.add_user("app")
    fleet.aws.iam.add_key("app", age_days=85)
    body = WorkItem(ACCOUNT, "app", "run", Mode.ACT).to_body()
    with caplog.at_level(logging.WARNING, logger="keyturn.audit"):
        answer = worker.handle({"Records": [record(body)]}, None, fleet)
    assert answer == {"batchItemFailures": []}
    assert fleet.modes == [Mode.AUDIT]
    assert len(fleet.aws.key_ids("app")) == 1
    [event] = [r.__dict__ for r in caplog.records if r.name == "keyturn.audit"]
    assert (event["action"], event["mode"]) == ("audit-only", "audit")


@pytest.mark.attack("rollout: a fleet message with a mode the worker does not know")
@pytest.mark.parametrize("mode", ["ACT", "act ", "root", 1, None, ["act"]])
def test_a_message_with_an_unknown_mode_is_poison(mode: object) -> None:
    body = json.dumps({"account_id": ACCOUNT, "user_name": "app", "run_id": "r", "mode": mode})
    with pytest.raises(BadRequestError, match="mode must be act or audit"):
        WorkItem.from_body(body)


def test_a_message_from_before_modes_reads_as_act_and_may_ask_for_audit() -> None:
    old = json.dumps({"account_id": ACCOUNT, "user_name": "app", "run_id": "r"})
    assert WorkItem.from_body(old).mode is Mode.ACT
    audited = WorkItem(ACCOUNT, "app", "r", Mode.AUDIT)
    assert WorkItem.from_body(audited.to_body()) == audited
