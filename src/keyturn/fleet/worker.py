"""The SQS worker: runs the engine for each (account, user) message, reporting partial failures.

Each record is handled on its own (Powertools' batch utility); the response lists the failed
ones (``ReportBatchItemFailures``) so only those are redelivered, and after the queue's
``maxReceiveCount`` a message moves to the dead-letter queue. A malformed (poison) message
fails the same way and ends there. A duplicated message is harmless: the engine is
idempotent, so the second delivery finds nothing due.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from keyturn.fleet.messages import WorkItem
from keyturn.fleet.ports import Fleet
from keyturn.fleet.settings import FleetSettings
from keyturn.rotation.results import Status
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet

logger = Logger(service="keyturn-worker")
_fleet: Fleet | None = None


def work(fleet: Fleet, record: SQSRecord) -> str:
    """Run the engine for one message; raise to have it redelivered.

    Raises:
        BadRequestError: the message is not a work item (poison).
        KeyturnError: the user's run failed (AWS error, partial rotation).
    """
    item = WorkItem.from_body(record.body)
    run = fleet.user_rotator(item.account_id, [item.user_name], item.run_id).run()
    for user in run.users:
        logger.info(
            "user worked",
            extra={"account": item.account_id, "user": user.user_name, "status": user.status},
        )
        if user.status is Status.FAILED and user.error is not None:
            raise user.error
    return ",".join(u.status.value for u in run.users) or "gone"


def handle(event: dict[str, Any], context: Any, fleet: Fleet) -> dict[str, Any]:
    """Process one SQS batch; the testable seam."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event,
        record_handler=lambda record: work(fleet, record),
        processor=processor,
        context=context,
    )
    return dict(response)


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (SQS event source with ReportBatchItemFailures)."""
    global _fleet  # noqa: PLW0603 - one fleet (and its role sessions) per warm container
    if _fleet is None:
        _fleet = AwsFleet.from_settings(
            Settings.from_env(os.environ), FleetSettings.from_env(os.environ)
        )
    return handle(event, context, _fleet)
