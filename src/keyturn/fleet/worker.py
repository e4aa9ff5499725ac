"""The SQS worker: runs the engine for each (account, user) message, reporting partial failures.

Each record is handled on its own (Powertools' batch utility); the response lists the failed
ones (``ReportBatchItemFailures``) so only those are redelivered, and after the queue's
``maxReceiveCount`` a message moves to the dead-letter queue. A malformed (poison) message
fails the same way and ends there. A duplicated message is harmless: the engine is
idempotent, so the second delivery finds nothing due.

A message is a claim, not an order: whoever may send to the queue can write one. Its account
must be one this fleet covers (the organization's accounts the include/exclude rules select,
or the own account), listed once per invocation. A message for any other account is refused:
nothing is done there, and it is acknowledged rather than failed, since no retry could make
it valid. Each refusal is an audit event, and every invocation counts its refusals in the
``FleetMessagesRefused`` metric, for an alarm.

A message's mode (act or audit) is a claim too: the worker runs the user in the lower of the
message's mode and the mode its own settings allow in that account (``KEYTURN_MODE``,
``KEYTURN_ACT_ACCOUNTS``, ``KEYTURN_ACT_OUS``), so a message can ask for audit mode but never
upgrade an audited account to act; such a message is worked in audit mode and audited.

Each run emits the single-account function's metrics (:mod:`keyturn.rotation.metrics`:
``KeysRotated``, ``RotationsRefused``, ``RotationsFailed``, ...) with dimension
``service=keyturn-worker``, which the fleet alarms watch; refusals and failures are emitted
once more with an ``account`` dimension too, to tell which account needs a person. Audit
events, notifications, logs and each record's result name the account.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from keyturn.core.rollout import Mode
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.ports import Fleet
from keyturn.fleet.settings import FleetSettings
from keyturn.rotation.metrics import run_counts
from keyturn.rotation.results import Status, UserResult
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet, function_account

SERVICE = "keyturn-worker"
NAMESPACE = "keyturn"
PER_ACCOUNT = frozenset({"RotationsRefused", "RotationsFailed"})
"""Metrics emitted with an ``account`` dimension as well: the ones a person must act on.
Only accounts that have one pay for the extra custom metric."""
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
audit_log = logging.getLogger("keyturn.audit")
_fleet: Fleet | None = None
REFUSED = "refused"


@dataclass
class CoveredAccounts:
    """The accounts one invocation may work in: the fleet's selection, listed on first use.

    Listed again on every invocation, so a changed rule or organization applies at once; a
    listing that fails is not remembered, so the record fails and is retried.
    """

    fleet: Fleet
    refused: int = 0
    _ids: frozenset[str] | None = field(default=None, repr=False)

    def covers(self, account_id: str) -> bool:
        if self._ids is None:
            self._ids = frozenset(self.fleet.account_ids())
        return account_id in self._ids

    def mode(self, item: WorkItem) -> Mode:
        """The message's mode, lowered to what the fleet's settings allow in its account."""
        allowed = self.fleet.mode_of(item.account_id)
        return item.mode.at_most(allowed)


def work(fleet: Fleet, record: SQSRecord, covered: CoveredAccounts | None = None) -> str:
    """Run the engine for one message; raise to have it redelivered.

    Returns ``"<account> refused"`` for a message whose account the fleet does not cover,
    else the account and each user's status (``"<account> alice: changed"``).

    Raises:
        BadRequestError: the message is not a work item (poison).
        KeyturnError: the user's run failed (AWS error, partial rotation), or the fleet's
            accounts could not be listed.
    """
    item = WorkItem.from_body(record.body)
    covered = covered or CoveredAccounts(fleet)
    if not covered.covers(item.account_id):
        covered.refused += 1
        _audit_refusal(item, record.message_id)
        return f"{item.account_id} {REFUSED}"
    mode = covered.mode(item)
    if mode is not item.mode:
        _audit_downgrade(item, record.message_id)
    rotator = fleet.user_rotator(item.account_id, [item.user_name], item.run_id, mode=mode)
    run = rotator.run()
    count(item.account_id, run.users)
    for user in run.users:
        logger.info(
            "user worked",
            extra={
                "account": item.account_id,
                "user": user.user_name,
                "status": user.status,
                "mode": user.mode.value,
                "run_id": item.run_id,
            },
        )
        if user.status is Status.FAILED and user.error is not None:
            raise user.error
    statuses = ",".join(f"{u.user_name}: {u.status.value}" for u in run.users)
    return f"{item.account_id} {statuses or item.user_name + ': gone'}"


def count(account_id: str, users: tuple[UserResult, ...]) -> None:
    """The single-account function's metrics for one account's run; refusals and failures
    also with the account as a dimension."""
    for name, value in run_counts(users).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if name in PER_ACCOUNT:
            dimensions = {"service": SERVICE, "account": account_id}
            with single_metric(
                name=name,
                unit=MetricUnit.Count,
                value=value,
                namespace=NAMESPACE,
                default_dimensions=dimensions,
            ):
                pass  # flushed (printed as EMF) when the block ends


def handle(event: dict[str, Any], context: Any, fleet: Fleet) -> dict[str, Any]:
    """Process one SQS batch; the testable seam. The records' results, each naming its
    account, are logged once per batch (``batch worked``)."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    covered = CoveredAccounts(fleet)
    results: list[str] = []

    def record_handler(record: SQSRecord) -> str:
        result = work(fleet, record, covered)
        results.append(result)
        return result

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    metrics.add_metric(name="FleetMessagesRefused", unit=MetricUnit.Count, value=covered.refused)
    failed = len(response.get("batchItemFailures", []))
    logger.info("batch worked", extra={"results": results, "failed": failed})
    return dict(response)


def _audit_refusal(item: WorkItem, message_id: str) -> None:
    """One audit event for a message naming an account outside the fleet."""
    event: dict[str, object] = {
        "run_id": item.run_id,
        "account": item.account_id,
        "user": item.user_name,
        "key_id": None,
        "action": "refuse",
        "reason": "message for an account the fleet does not cover",
        "outcome": REFUSED,
        "message_id": message_id,
    }
    audit_log.warning(
        "keyturn refuse %s in %s: account not covered", item.user_name, item.account_id, extra=event
    )


def _audit_downgrade(item: WorkItem, message_id: str) -> None:
    """One audit event for a message asking to act where the fleet's settings audit."""
    event: dict[str, object] = {
        "run_id": item.run_id,
        "account": item.account_id,
        "user": item.user_name,
        "key_id": None,
        "action": "audit-only",
        "reason": "message asked to act in an account the fleet's settings audit",
        "outcome": "worked in audit mode",
        "mode": Mode.AUDIT.value,
        "message_id": message_id,
    }
    audit_log.warning(
        "keyturn audits %s in %s: the message's act mode is not allowed there",
        item.user_name,
        item.account_id,
        extra=event,
    )


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (SQS event source with ReportBatchItemFailures)."""
    global _fleet  # noqa: PLW0603 - one fleet (and its role sessions) per warm container
    if _fleet is None:
        _fleet = AwsFleet.from_settings(
            Settings.from_env(os.environ),
            FleetSettings.from_env(os.environ, enter_own_account=True),
            account_id=function_account(context),
        )
    return handle(event, context, _fleet)
