"""Notifications on an SNS topic: e-mail subject plus a JSON body for Email-JSON subscribers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.rotation.ports import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


def message_attributes(notification: Notification) -> dict[str, MessageAttributeValueTypeDef]:
    """What subscription filter policies can match: the event, the user and, in a fleet run,
    the account."""
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "event": {"DataType": "String", "StringValue": notification.kind.value},
        "user": {"DataType": "String", "StringValue": notification.user_name},
    }
    if notification.account_id:
        attributes["account"] = {"DataType": "String", "StringValue": notification.account_id}
    return attributes


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> None:
        """One SNS message; none for a step people were told of already (``announced``)."""
        if notification.announced:
            return
        with aws_call("Publish"):
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject,
                Message=json.dumps(notification.body, indent=2, default=str),
                MessageAttributes=message_attributes(notification),
            )
