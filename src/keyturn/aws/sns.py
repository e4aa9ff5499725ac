"""Notifications on an SNS topic: e-mail subject plus a JSON body for Email-JSON subscribers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.rotation.ports import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> None:
        with aws_call("Publish"):
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject,
                Message=json.dumps(notification.body, indent=2, default=str),
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": notification.kind.value},
                    "user": {"DataType": "String", "StringValue": notification.user_name},
                },
            )
