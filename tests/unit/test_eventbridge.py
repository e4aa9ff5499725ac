"""Lifecycle notifications as EventBridge events: the entry, the detail, no secret ever."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest

from keyturn import wiring
from keyturn.aws.events import EventBridgeNotifier, event_entry
from keyturn.core import NewKey, SecretValue
from keyturn.core.actions import Action, ActionKind, Reason
from keyturn.core.delivery import SecretRef
from keyturn.errors import AwsError, ConfigurationError
from keyturn.rotation import notices
from keyturn.rotation.ports import SECRET_FIELDS, Notification, NotificationKind, Notifiers
from keyturn.settings import ENV_EVENT_BUS, Settings
from keyturn.testing import RecordingNotifier

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = SecretValue("example-not-a-real-secret-0123456789abcd")
KEY = NewKey("app", "AKIANEWNEWNEWNEWNEW1", SECRET, NOW)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/app"
REF = SecretRef("keyturn/app", ARN)
COMMON = {"Event", "UserName", "SecretName", "SecretArn"}


def every_kind() -> list[Notification]:
    """One notice of each lifecycle kind, the rotated one with the secret opted in."""
    return [
        notices.rotated(KEY, "AKIAOLDOLDOLDOLDOLD1", REF, (NOW, NOW), include_secret=True),
        notices.deactivation_coming("app", "AKIAOLDOLDOLDOLDOLD1", NOW, REF),
        notices.deactivated("app", "AKIAOLDOLDOLDOLDOLD1", NOW, REF, reason="grace-period-over"),
        notices.deleted("app", "AKIAOLDOLDOLDOLDOLD1", "restore-window-over", REF),
        notices.restored("app", "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW1", REF),
        notices.refused("app", "two active keys keyturn did not create", REF),
        notices.failed("app", "VerificationError: never authenticated", REF),
        notices.postponed("app", "AKIAOLDOLDOLDOLDOLD1", "used today", NOW, REF, owner="ops"),
        notices.audited("app", [Action(ActionKind.CREATE, Reason.ROTATION_DUE, "AKIAOLD1")], REF),
    ]


def test_every_kind_is_covered() -> None:
    assert {n.kind for n in every_kind()} == set(NotificationKind)


@pytest.mark.parametrize("notification", every_kind(), ids=lambda n: n.kind.value)
def test_each_event_has_the_documented_envelope(notification: Notification) -> None:
    entry = event_entry(notification, "ops-bus")
    assert entry["Source"] == "keyturn"
    assert entry["DetailType"] == f"keyturn {notification.kind.value}"
    assert entry["EventBusName"] == "ops-bus"
    assert entry.get("Resources") == [ARN]
    detail = json.loads(entry["Detail"])
    assert detail["Event"] == notification.kind.value
    assert detail.keys() >= COMMON
    assert detail == {
        k: v for k, v in json.loads(json.dumps(notification.body)).items() if k not in SECRET_FIELDS
    }


@pytest.mark.parametrize("notification", every_kind(), ids=lambda n: n.kind.value)
def test_an_event_never_carries_the_secret_even_when_opted_in(notification: Notification) -> None:
    entry = event_entry(notification, "ops-bus")
    assert SECRET.reveal() not in json.dumps(entry)
    assert not SECRET_FIELDS & json.loads(entry["Detail"]).keys()


def test_the_opted_in_sns_body_still_has_the_secret() -> None:
    rotated = every_kind()[0]
    assert rotated.body["SecretAccessKey"] == SECRET.reveal()  # what SNS gets, by opt-in
    assert "SecretAccessKey" not in rotated.public_body()


def test_a_smtp_password_field_is_never_public() -> None:
    note = Notification(NotificationKind.ROTATED, "app", "s", {"SmtpPassword": "x", "A": 1})
    assert note.public_body() == {"A": 1}


def test_a_secret_without_an_arn_names_no_resource() -> None:
    note = notices.refused("app", "why", SecretRef("keyturn/app"))
    assert "Resources" not in event_entry(note, "default")


@dataclass
class FakeEvents:
    """PutEvents answering with ``failed`` entries."""

    failed: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.failed:
            entry = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            return {"FailedEntryCount": 1, "Entries": [entry]}
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def test_the_notifier_puts_one_entry_per_notification() -> None:
    client = FakeEvents()
    EventBridgeNotifier(cast("EventBridgeClient", client), "ops-bus").publish(every_kind()[5])
    [call] = client.calls
    [entry] = call["Entries"]
    assert entry["DetailType"] == "keyturn refused"


def test_a_rejected_entry_is_an_aws_error() -> None:
    client = FakeEvents(failed=1)
    notifier = EventBridgeNotifier(cast("EventBridgeClient", client), "ops-bus")
    with pytest.raises(AwsError, match="PutEvents failed: InternalFailure"):
        notifier.publish(every_kind()[5])


@dataclass
class Broken:
    def publish(self, notification: Notification) -> None:
        raise AwsError("Publish", "Throttling", notification.kind.value)


def test_fan_out_reaches_every_notifier_even_after_a_failure() -> None:
    first, last = RecordingNotifier(), RecordingNotifier()
    fan_out = Notifiers((first, Broken(), last))
    with pytest.raises(AwsError, match="Throttling"):
        fan_out.publish(every_kind()[6])
    assert [n.kind for n in first.sent] == [n.kind for n in last.sent] == [NotificationKind.FAILED]


@pytest.mark.parametrize(
    "bus",
    [
        "default",
        "ops-bus",
        "team/keyturn.events_1",
        "arn:aws:events:eu-west-1:123456789012:event-bus/central",
        "arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/central",
    ],
)
def test_a_bus_name_or_arn_is_accepted(bus: str) -> None:
    assert Settings.from_env({ENV_EVENT_BUS: bus}).event_bus == bus


@pytest.mark.parametrize(
    "bus",
    ["ops bus", "bus\n", "b" * 257, "arn:aws:sns:eu-west-1:123456789012:topic", "bus\u00e9"],
)
def test_an_unusable_bus_is_refused(bus: str) -> None:
    with pytest.raises(ConfigurationError, match=ENV_EVENT_BUS):
        Settings.from_env({ENV_EVENT_BUS: bus})


def test_no_bus_by_default() -> None:
    assert Settings.from_env({}).event_bus is None


@pytest.mark.parametrize(
    ("topic", "bus", "expected"),
    [
        (None, None, ["NullNotifier"]),
        ("arn:aws:sns:us-east-1:123456789012:t", None, ["SnsNotifier"]),
        (None, "ops-bus", ["EventBridgeNotifier"]),
        ("arn:aws:sns:us-east-1:123456789012:t", "ops-bus", ["SnsNotifier", "EventBridgeNotifier"]),
    ],
)
def test_the_wiring_publishes_to_what_is_configured(
    topic: str | None, bus: str | None, expected: list[str]
) -> None:
    settings = Settings(topic_arn=topic, event_bus=bus, region="us-east-1")
    built = wiring.notifier_for(wiring.clients_for(settings), settings)
    parts = built.notifiers if isinstance(built, Notifiers) else (built,)
    assert [type(p).__name__ for p in parts] == expected
