"""Audit-only mode and staged rollout on the in-memory fakes: plans, notices, nothing changed."""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

import pytest

from keyturn import handler
from keyturn.core.models import User
from keyturn.core.rollout import Mode, Rollout, parse_act_tag
from keyturn.errors import ConfigurationError, RefusedError, UserNotFoundError
from keyturn.handler import handle
from keyturn.rotation.ports import NotificationKind
from keyturn.rotation.results import Status
from keyturn.rotation.rotator import Rotator
from keyturn.rotation.secrets_manager import RotationEvent, Step
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

EVERYONE = Scope(user_path="/")
AUDIT = Settings(scope=EVERYONE, mode=Mode.AUDIT)


def world_of(aws: FakeAws) -> Any:
    """Everything keyturn could change in the fakes."""
    return copy.deepcopy((aws.iam.keys, aws.secrets.secrets, aws.secrets.owned))


def kinds(aws: FakeAws) -> list[str]:
    return [n.kind.value for n in aws.notifier.sent]


@pytest.mark.parametrize(
    ("environ", "mode", "rollout"),
    [
        ({}, Mode.ACT, Rollout()),
        ({"KEYTURN_MODE": " Audit "}, Mode.AUDIT, Rollout()),
        (
            {"KEYTURN_ACT_USERS": "a, b", "KEYTURN_ACT_PATHS": "/team/", "KEYTURN_ACT_TAG": "x=1"},
            Mode.ACT,
            Rollout(frozenset({"a", "b"}), ("/team/",), ("x", "1")),
        ),
    ],
)
def test_mode_and_rollout_come_from_the_environment(
    environ: dict[str, str], mode: Mode, rollout: Rollout
) -> None:
    settings = Settings.from_env(environ)
    assert (settings.mode, settings.rollout) == (mode, rollout)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KEYTURN_MODE": "dry-run"}, "KEYTURN_MODE must be act or audit"),
        ({"KEYTURN_ACT_PATHS": "team"}, "KEYTURN_ACT_PATHS paths must start and end with '/'"),
        ({"KEYTURN_ACT_TAG": "no-equals"}, "KEYTURN_ACT_TAG must be KEY=VALUE"),
        ({"KEYTURN_ACT_TAG": "=value"}, "KEYTURN_ACT_TAG must be KEY=VALUE"),
    ],
)
def test_unusable_mode_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environ)


def test_an_empty_tag_value_is_a_tag_rule() -> None:
    assert parse_act_tag(" rollout = ") == ("rollout", "")
    assert parse_act_tag("") is None


ALICE = User("alice", path="/team/")
BOB = User("bob", tags={"rollout": "act"})
CAROL = User("carol")


@pytest.mark.parametrize(
    ("mode", "rollout", "acted"),
    [
        (Mode.ACT, Rollout(), {"alice", "bob", "carol"}),
        (Mode.AUDIT, Rollout(), set()),
        (Mode.AUDIT, Rollout(frozenset({"carol"}), ("/",), ("rollout", "act")), set()),
        (Mode.ACT, Rollout(user_paths=("/team/",)), {"alice"}),
        (Mode.ACT, Rollout(user_names=frozenset({"carol"})), {"carol"}),
        (Mode.ACT, Rollout(tag=("rollout", "act")), {"bob"}),
        (Mode.ACT, Rollout(tag=("rollout", "ACT")), set()),
    ],
)
def test_rollout_rules_choose_who_is_acted_on(
    mode: Mode, rollout: Rollout, acted: set[str]
) -> None:
    settings = Settings(scope=EVERYONE, mode=mode, rollout=rollout)
    found = {u.name for u in (ALICE, BOB, CAROL) if settings.mode_for(u) is Mode.ACT}
    assert found == acted


def test_audit_wins_over_act_and_never_the_reverse() -> None:
    assert Mode.ACT.at_most(Mode.AUDIT) is Mode.AUDIT
    assert Mode.AUDIT.at_most(Mode.ACT) is Mode.AUDIT
    assert Mode.ACT.at_most(Mode.ACT) is Mode.ACT


@pytest.mark.world(users={"due": 85, "fresh": 10, "stuck": None})
def test_an_audit_run_plans_notifies_and_changes_nothing(
    world: FakeAws, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a due user, a fresh one and one with two foreign active keys (refused)
    world.iam.add_key("stuck", age_days=95)
    world.iam.add_key("stuck", age_days=20)
    before = world_of(world)
    # WHEN keyturn runs in audit mode
    with caplog.at_level(logging.INFO, logger="keyturn.audit"):
        run = world.rotator(AUDIT).run()
    # THEN nothing changed, and the run says what acting would have done
    assert world_of(world) == before
    assert run.mode is Mode.AUDIT
    assert any("audit mode" in note for note in run.notes)
    by_name = {u.user_name: u for u in run.users}
    assert by_name["due"].status is Status.PLANNED
    assert by_name["due"].mode is Mode.AUDIT
    assert by_name["due"].done == ()
    assert "audit mode, nothing changed: would create" in by_name["due"].message
    assert by_name["fresh"].status is Status.UNCHANGED
    assert by_name["stuck"].status is Status.REFUSED
    # one "audited" notice for the due user, and the refusal says it is audit mode
    [audited] = [n for n in world.notifier.sent if n.kind is NotificationKind.AUDITED]
    assert audited.user_name == "due"
    assert audited.subject.startswith("keyturn audit mode: would create due's key")
    assert audited.body["WouldDo"] == [
        {"Action": "create", "AccessKeyId": world.key_ids("due")[0], "Reason": "rotation-due"}
    ]
    [refused] = [n for n in world.notifier.sent if n.kind is NotificationKind.REFUSED]
    assert refused.subject.startswith("[audit mode] ")
    assert refused.body["Mode"] == "audit"
    events = [r.__dict__ for r in caplog.records if r.name == "keyturn.audit"]
    assert {(e["user"], e["action"], e["outcome"], e.get("mode")) for e in events} == {
        ("due", "create", "not-done (audit mode)", "audit"),
        ("stuck", "refuse", "done", "audit"),
    }


@pytest.mark.world(users={"app": 85, "due": 85}, rotate=["app"], advance_days=8)
def test_explicit_events_in_audit_mode_answer_what_they_would_do(world: FakeAws) -> None:
    world.iam.record_use("app", world.current("app") or "")
    before = world_of(world)
    rotator = world.rotator(AUDIT)
    rotated = rotator.rotate("due")
    restored = rotator.restore("app")
    retired = rotator.retire()
    assert world_of(world) == before
    assert (rotated.status, rotated.mode) == (Status.PLANNED, Mode.AUDIT)
    assert "would create" in rotated.message
    assert (restored.status, restored.mode) == (Status.PLANNED, Mode.AUDIT)
    assert "would make" in restored.message
    assert [u.status for u in retired.users] == [Status.PLANNED]
    assert "would deactivate" in retired.users[0].message


@pytest.mark.world(users={"app": 85}, rotate=["app"], advance_days=8)
def test_a_secrets_manager_rotation_step_is_refused_in_audit_mode(world: FakeAws) -> None:
    before = world_of(world)
    rotator = world.rotator(AUDIT)
    token = str(uuid.uuid4())
    for step in Step:
        with pytest.raises(RefusedError, match="audit mode"):
            rotator.rotation_step(RotationEvent(step, "keyturn/app", token))
    assert world_of(world) == before
    assert set(kinds(world)[-4:]) == {"refused"}


@pytest.mark.world(users={"first": 85, "later": 85})
def test_a_staged_rollout_acts_on_the_selected_users_and_audits_the_rest(world: FakeAws) -> None:
    settings = Settings(scope=EVERYONE, rollout=Rollout(user_names=frozenset({"first"})))
    run = world.rotator(settings).run()
    by_name = {u.user_name: u for u in run.users}
    assert (by_name["first"].status, by_name["first"].mode) == (Status.CHANGED, Mode.ACT)
    assert (by_name["later"].status, by_name["later"].mode) == (Status.PLANNED, Mode.AUDIT)
    assert len(world.key_ids("first")) == 2
    assert len(world.key_ids("later")) == 1
    assert "staged rollout" in run.notes[0]


def rotator_factory(aws: FakeAws, settings: Settings) -> Any:
    def build(_: Settings, run_id: str) -> Rotator:
        del run_id
        return aws.rotator(settings)

    return build


@pytest.mark.world(users={"app": 85})
def test_the_handler_counts_audit_mode_under_its_own_metric_names(world: FakeAws) -> None:
    handler.metrics.clear_metrics()
    answer = handle({"action": "run"}, "unit", rotator_factory(world, AUDIT))
    assert answer["body"]["mode"] == "audit"
    assert answer["body"]["users"][0]["mode"] == "audit"
    metrics = handler.metrics.metric_set
    assert metrics["KeysWouldRotate"]["Value"] == [1.0]
    assert "KeysRotated" not in metrics
    handler.metrics.clear_metrics()


@pytest.mark.world(users={"app": 85})
def test_an_unknown_user_in_an_explicit_event_is_audited_notified_and_counted(
    world: FakeAws, caplog: pytest.LogCaptureFixture
) -> None:
    handler.metrics.clear_metrics()
    factory = rotator_factory(world, world.settings)
    with caplog.at_level(logging.INFO, logger="keyturn.audit"):
        answer = handle({"action": "create", "username": "nosuch"}, "unit", factory)
    assert answer["statusCode"] == UserNotFoundError("nosuch").status_code == 404
    assert handler.metrics.metric_set["RotationsRefused"]["Value"] == [1.0]
    [notice] = world.notifier.sent
    assert (notice.kind, notice.user_name) == (NotificationKind.REFUSED, "nosuch")
    assert notice.body["Reason"] == "no IAM user named nosuch"
    [event] = [r.__dict__ for r in caplog.records if r.name == "keyturn.audit"]
    assert (event["user"], event["action"]) == ("nosuch", "refuse")
    handler.metrics.clear_metrics()
