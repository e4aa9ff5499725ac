"""Who hears of what: every step is announced once to people, and each is an event.

The rotation notice names the deactivation's run, the deactivation notice the deletion's run;
a deletion at that run is not mailed again (EventBridge and the audit log still get it). The
"deactivation coming" reminder is opt-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest

from keyturn.aws.events import EventBridgeNotifier
from keyturn.aws.sns import SnsNotifier
from keyturn.core import KeyStatus
from keyturn.core.delivery import SecretRef
from keyturn.errors import AwsError, ConfigurationError
from keyturn.rotation import notices
from keyturn.rotation.ports import Notification, NotificationKind
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.testing import FakeAws

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient

REF = SecretRef("keyturn/app", "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/app")
OLD = "AKIAOLDOLDOLDOLDOLD1"


@dataclass
class Calls:
    """A stand-in client that records each call's keyword arguments."""

    made: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.made.append(kwargs)
        return {"MessageId": "1"}

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.made.append(kwargs)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


@pytest.mark.parametrize(("announced", "mailed"), [(True, 0), (False, 1)])
def test_sns_mails_only_what_was_not_announced(announced: bool, mailed: int) -> None:
    sns, events = Calls(), Calls()
    deleted = notices.deleted("app", OLD, "restore-window-elapsed", REF, announced=announced)
    SnsNotifier(cast("SNSClient", sns), "arn:aws:sns:us-east-1:123456789012:t").publish(deleted)
    EventBridgeNotifier(cast("EventBridgeClient", events), "ops").publish(deleted)
    assert len(sns.made) == mailed
    assert [e["Entries"][0]["DetailType"] for e in events.made] == ["keyturn deleted"]


def _rotated_twice_removed(world: FakeAws) -> tuple[str, list[Notification]]:
    """A user rotated, its old key deactivated on schedule and then deleted."""
    old = world.add_due_user()
    world.run_daily(15)
    assert old not in world.key_ids("app")
    return old, world.notifier.sent


def test_the_deactivation_notice_names_the_run_of_the_deletion_it_replaces() -> None:
    world = FakeAws()
    start = world.clock.now()
    old, sent = _rotated_twice_removed(world)
    deactivated = next(n for n in sent if n.kind is NotificationKind.DEACTIVATED)
    # the run it names is day 14, the run that deleted the key (the loop's days 0 to 14)
    assert deactivated.body["DeleteAt"] == (start + timedelta(days=14)).isoformat(
        timespec="seconds"
    )
    deleted = next(n for n in sent if n.kind is NotificationKind.DELETED)
    assert deleted.announced
    assert deleted.body["Reason"] == "restore-window-elapsed"
    assert not deactivated.announced
    assert deactivated.body["AccessKeyId"] == old
    assert "keyturn restore app" in str(deactivated.body["Restore"])
    assert [n.kind for n in sent] == [
        NotificationKind.ROTATED,
        NotificationKind.DEACTIVATED,
        NotificationKind.DELETED,
    ]


def test_a_key_deactivated_outside_keyturn_is_announced_before_its_silent_deletion() -> None:
    # GIVEN a rotated user whose old key someone deactivates by hand during the grace period
    world = FakeAws()
    old = world.add_due_user()
    rotator = world.rotator()
    rotator.run()
    world.iam.set_key_status("app", old, KeyStatus.INACTIVE)
    world.clock.advance(days=1)
    # WHEN the next run finds it inactive
    done = rotator.run().users[0].done
    # THEN it records the deactivation and tells the owner which run deletes the key
    assert [d.action.kind.value for d in done] == ["record-deactivation"]
    notice = world.notifier.sent[-1]
    assert notice.kind is NotificationKind.DEACTIVATED
    assert notice.body["Reason"] == "deactivated-outside-keyturn"
    assert notice.subject.endswith("is inactive")
    assert notice.body["DeleteAt"] == (world.clock.now() + timedelta(days=7)).isoformat(
        timespec="seconds"
    )
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.deactivated_time(old) == world.clock.now()
    # AND the deletion on that run is not mailed again
    world.clock.advance(days=7)
    rotator.run()
    assert old not in world.key_ids("app")
    assert world.notifier.sent[-1].kind is NotificationKind.DELETED
    assert world.notifier.sent[-1].announced


def test_an_undelivered_key_deletion_is_mailed() -> None:
    message = notices.deleted("app", OLD, "undelivered-key", REF)
    assert not message.announced


@pytest.mark.parametrize(
    ("env", "reminder"),
    [({}, timedelta(0)), ({"KEYTURN_WARN_BEFORE_DAYS": "2"}, timedelta(days=2))],
)
def test_the_reminder_comes_from_the_environment(env: dict[str, str], reminder: timedelta) -> None:
    assert Settings.from_env(env).policy.warn_before == reminder


@pytest.mark.parametrize("raw", ["one", "-1", "1.5", "99999"])
def test_a_bad_reminder_setting_is_explained(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="KEYTURN_WARN_BEFORE_DAYS"):
        Settings.from_env({"KEYTURN_WARN_BEFORE_DAYS": raw})


def test_without_the_reminder_no_run_warns() -> None:
    world = FakeAws()
    _rotated_twice_removed(world)
    assert NotificationKind.DEACTIVATION_COMING not in {n.kind for n in world.notifier.sent}


def test_with_the_reminder_it_comes_once_the_day_before() -> None:
    world = FakeAws()
    world.settings = replace(
        world.settings, policy=Settings.from_env({"KEYTURN_WARN_BEFORE_DAYS": "1"}).policy
    )
    start = world.clock.now()
    _rotated_twice_removed(world)
    coming = [n for n in world.notifier.sent if n.kind is NotificationKind.DEACTIVATION_COMING]
    assert len(coming) == 1
    assert coming[0].body["DeactivateAt"] == (start + timedelta(days=7)).isoformat(
        timespec="seconds"
    )


def _deactivated_on_day_seven(world: FakeAws) -> str:
    old = world.add_due_user()
    world.run_daily(8)
    assert world.notifier.sent[-1].kind is NotificationKind.DEACTIVATED
    return old


def test_a_deletion_later_than_announced_is_mailed() -> None:
    # GIVEN the deactivation notice named day 14, and the runs of days 14 and 15 never came
    world = FakeAws()
    old = _deactivated_on_day_seven(world)
    world.clock.advance(days=8)  # day 16
    # WHEN the next run deletes the key
    world.rotator().run()
    # THEN the deletion is news: it is mailed
    assert old not in world.key_ids("app")
    deleted = world.notifier.sent[-1]
    assert deleted.kind is NotificationKind.DELETED
    assert not deleted.announced


def test_a_deletion_an_older_keyturn_recorded_without_telling_is_mailed() -> None:
    # GIVEN a deactivation mark in the older format, which did not say a notice went out
    world = FakeAws()
    old = _deactivated_on_day_seven(world)
    tags = world.secrets.secrets["app"].tags
    tags["keyturn:deactivated"] = tags["keyturn:deactivated"].removeprefix("told:")
    world.clock.advance(days=6)  # day 14, the run the notice would have named
    world.rotator().run()
    assert old not in world.key_ids("app")
    assert not world.notifier.sent[-1].announced


@dataclass
class FailingOnce:
    """A notifier whose first ``deactivated`` notice fails (SNS throttled past its retries)."""

    inner: Any
    failed: bool = False

    def publish(self, notification: Notification) -> None:
        if notification.kind is NotificationKind.DEACTIVATED and not self.failed:
            self.failed = True
            raise AwsError("Publish", "Throttling", "rate exceeded")
        self.inner.publish(notification)


def test_a_deactivation_notice_that_failed_is_sent_again_before_any_silent_deletion() -> None:
    # GIVEN the grace period's end, and SNS failing the deactivation notice once
    world = FakeAws()
    old = world.add_due_user()
    world.rotator().run()
    world.clock.advance(days=7)
    flaky = Rotator(
        world.iam,
        world.iam,
        world.secrets,
        FailingOnce(world.notifier),
        world.clock,
        world.settings,
    )
    flaky.run()
    # THEN the key is inactive but not recorded as told
    assert world.iam.keys["app"][0].status is KeyStatus.INACTIVE
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.deactivated_time(old) is None
    # WHEN the next run comes, it tells (and records); the deletion that run named is silent
    world.clock.advance(days=1)
    world.rotator().run()
    told = world.notifier.sent[-1]
    assert told.kind is NotificationKind.DEACTIVATED
    world.clock.advance(days=7)
    world.rotator().run()
    assert old not in world.key_ids("app")
    assert world.notifier.sent[-1].kind is NotificationKind.DELETED
    assert world.notifier.sent[-1].announced
