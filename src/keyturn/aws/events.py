"""Lifecycle notifications as EventBridge events on a bus (``KEYTURN_EVENT_BUS``).

Each notification becomes one event: source ``keyturn``, detail-type ``keyturn <kind>``
(``keyturn rotated``, ``keyturn refused``, ...), the secret's ARN as its resource, and as detail
the notification's body without any secret field (:meth:`Notification.public_body`), even when
``KEYTURN_NOTIFY_INCLUDE_SECRET`` puts the key into the SNS message. The detail schema is in
docs/deploy.md.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.errors import AwsError
from keyturn.rotation.ports import Notification

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE = "keyturn"


def detail_type(notification: Notification) -> str:
    return f"{SOURCE} {notification.kind.value}"


def event_entry(notification: Notification, bus: str) -> PutEventsRequestEntryTypeDef:
    """The PutEvents entry for ``notification`` on ``bus`` (a name or an ARN)."""
    detail = notification.public_body()
    entry: PutEventsRequestEntryTypeDef = {
        "Source": SOURCE,
        "DetailType": detail_type(notification),
        "Detail": json.dumps(detail, default=str),
        "EventBusName": bus,
    }
    arn = detail.get("SecretArn")
    if isinstance(arn, str) and arn:
        entry["Resources"] = [arn]
    return entry


class EventBridgeNotifier:
    """Puts each notification on an EventBridge bus as one event."""

    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self._events = client
        self._bus = bus

    def publish(self, notification: Notification) -> None:
        """Raises AwsError when the call fails or EventBridge rejects the entry."""
        with aws_call("PutEvents"):
            answer = self._events.put_events(Entries=[event_entry(notification, self._bus)])
        if answer.get("FailedEntryCount", 0):
            failed = answer["Entries"][0] if answer.get("Entries") else {}
            raise AwsError(
                "PutEvents",
                str(failed.get("ErrorCode") or "FailedEntry"),
                str(failed.get("ErrorMessage") or "EventBridge rejected the event"),
            )
