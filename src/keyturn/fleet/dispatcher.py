"""The scheduled dispatcher: one SQS message per (account, user) that may be due.

``lambda_handler`` wires AWS; :func:`dispatch` is the testable seam. An account that cannot be
scanned (role missing, report failing) does not stop the others; the run raises at the end so
the failure is seen (Lambda error metric, alarm), after every other account was dispatched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from keyturn.core.rollout import Mode
from keyturn.errors import AwsError, KeyturnError
from keyturn.fleet.messages import WorkItem
from keyturn.fleet.ports import Fleet
from keyturn.fleet.settings import FleetSettings
from keyturn.settings import Settings
from keyturn.wiring.fleet import AwsFleet, function_account

logger = Logger(service="keyturn-dispatcher")
metrics = Metrics(namespace="keyturn", service="keyturn-dispatcher")


@dataclass(frozen=True)
class AccountDispatch:
    account_id: str
    enqueued: int = 0
    error: KeyturnError | None = None
    mode: Mode = Mode.ACT


@dataclass(frozen=True)
class DispatchResult:
    run_id: str
    accounts: tuple[AccountDispatch, ...]

    @property
    def enqueued(self) -> int:
        return sum(a.enqueued for a in self.accounts)

    @property
    def failed(self) -> tuple[AccountDispatch, ...]:
        return tuple(a for a in self.accounts if a.error is not None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "enqueued": self.enqueued,
            "accounts": [
                {
                    "account_id": a.account_id,
                    "enqueued": a.enqueued,
                    "mode": a.mode.value,
                    "error": _text(a.error),
                }
                for a in self.accounts
            ],
        }


def dispatch(fleet: Fleet, run_id: str) -> DispatchResult:
    """Scan every account of ``fleet`` and enqueue its candidates."""
    queue = fleet.queue()
    account_ids = fleet.account_ids()
    fleet.start_reports(account_ids)
    outcomes = []
    for account_id in account_ids:
        try:
            mode = fleet.mode_of(account_id)
            names = fleet.candidates(account_id)
            items = [WorkItem(account_id, name, run_id, mode) for name in names]
            unsent = queue.send(items)
        except KeyturnError as exc:
            logger.error("account not dispatched", extra={"account": account_id, "error": str(exc)})
            outcomes.append(AccountDispatch(account_id, error=exc))
            continue
        error = None
        if unsent:
            error = AwsError("SendMessageBatch", "Failed", f"{len(unsent)} messages not sent")
        outcomes.append(AccountDispatch(account_id, len(items) - len(unsent), error, mode))
        logger.info(
            "account dispatched",
            extra={"account": account_id, "enqueued": len(items), "mode": mode.value},
        )
    return DispatchResult(run_id, tuple(outcomes))


def dispatch_counts(result: DispatchResult) -> dict[str, float]:
    """The dispatcher's metrics: ``RunsSucceeded`` (1 when every account was dispatched: in a
    hub, the fleet's scheduled run, which the no-successful-run alarm watches),
    ``AccountsFailed`` and ``UsersEnqueued``."""
    counts = {"AccountsFailed": float(len(result.failed)), "UsersEnqueued": float(result.enqueued)}
    if not result.failed:
        counts["RunsSucceeded"] = 1.0
    return counts


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (an EventBridge schedule; the event is not read)."""
    del event
    fleet = AwsFleet.from_settings(
        Settings.from_env(os.environ),
        FleetSettings.from_env(os.environ, enter_own_account=True),
        account_id=function_account(context),
    )
    result = dispatch(fleet, getattr(context, "aws_request_id", "local"))
    for name, value in dispatch_counts(result).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if result.failed and result.failed[0].error is not None:
        raise result.failed[0].error
    return result.as_dict()


def _text(error: KeyturnError | None) -> str | None:
    return None if error is None else str(error)
