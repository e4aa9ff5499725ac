"""The fan-out queue on SQS: SendMessageBatch in tens, failures handed back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.fleet.messages import WorkItem

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH = 10  # SQS's limit per SendMessageBatch


class SqsWorkQueue:
    """A WorkQueue on one SQS queue."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, items: Sequence[WorkItem]) -> list[WorkItem]:
        failed: list[WorkItem] = []
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "MessageBody": item.to_body()} for n, item in enumerate(chunk)
            ]
            with aws_call("SendMessageBatch"):
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            failed.extend(chunk[int(f["Id"])] for f in answer.get("Failed", []))
        return failed
