"""The Lambda face: ``keyturn.handler.lambda_handler(event, context)``.

Parses the event, builds the settings once, calls the same service as the CLI and renders the
result. Errors are answered from their own status code in :func:`answer_error`: bad input or
settings 400, an unknown user 404, a safety refusal 409, none of which changes anything.
Failures from 500 on raise, so Lambda's retries and the failure destination apply; a retried
event is safe (the service is idempotent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from keyturn.errors import ConfigurationError, KeyturnError, RefusedError, UserNotFoundError
from keyturn.handler.events import (
    PlanRequest,
    Request,
    RestoreRequest,
    RetireRequest,
    RotateRequest,
    RunRequest,
    parse_event,
)
from keyturn.rotation.metrics import run_counts, silence_counts, step_counts
from keyturn.rotation.results import RunResult, UserResult
from keyturn.rotation.rotator import Rotator
from keyturn.rotation.secrets_manager import RotationEvent
from keyturn.rotation.views import key_rows, run_json
from keyturn.settings import Settings
from keyturn.wiring import build_rotator

logger = Logger(service="keyturn")
metrics = Metrics(namespace="keyturn", service="keyturn")

RotatorFactory = Callable[[Settings, str], Rotator]


def _aws_rotator(settings: Settings, run_id: str) -> Rotator:
    return build_rotator(settings, run_id=run_id)


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    seconds_left = (lambda: remaining_ms() / 1000) if callable(remaining_ms) else None
    return handle(event, getattr(context, "aws_request_id", "local"), seconds_left=seconds_left)


def handle(
    event: Any,
    run_id: str,
    rotator_factory: RotatorFactory = _aws_rotator,
    *,
    seconds_left: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Serve one event; the factory is the seam tests and the emulator demo use.

    ``seconds_left`` (Lambda's remaining time) lets a scheduled run defer users it has no time
    to finish rather than be killed mid-rotation.
    """
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    request: Request | None = None
    try:
        request = parse_event(event)
        rotator = rotator_factory(Settings.from_env(os.environ), run_id)
        return _serve(rotator, request, seconds_left)
    except KeyturnError as exc:
        return answer_error(request, exc)


def answer_error(request: Request | None, exc: KeyturnError) -> dict[str, Any]:
    """The one place an error becomes the function's answer, from its own ``status_code``.

    Below 500 (bad event or settings, unknown user, refusal) the event is answered and nothing
    was changed. From 500 on it is raised, so Lambda's retries and the failure destination
    apply. A Secrets Manager step always raises: Secrets Manager must see it fail, or it would
    finish a broken rotation.

    Raises:
        KeyturnError: ``exc``, for a rotation step or a status of 500 or more.
    """
    if isinstance(request, RotationEvent):
        metrics.add_metric(name="RotationsFailed", unit=MetricUnit.Count, value=1)
        logger.error("rotation step failed", extra={"step": request.step.value, "error": str(exc)})
        raise exc
    if isinstance(exc, RefusedError | UserNotFoundError):
        # an unknown user in an explicit event is a refusal too (audited and notified)
        metrics.add_metric(name="RotationsRefused", unit=MetricUnit.Count, value=1)
    elif isinstance(exc, ConfigurationError) or exc.status_code >= 500:
        # Nothing can run until someone fixes it: counted as a failure, so the alarm fires.
        metrics.add_metric(name="RotationsFailed", unit=MetricUnit.Count, value=1)
    if exc.status_code >= 500:
        raise exc
    loud = isinstance(exc, ConfigurationError)
    (logger.error if loud else logger.warning)(
        "request not served", extra={"status": exc.status_code, "error": str(exc)}
    )
    return {"statusCode": exc.status_code, "error": str(exc)}


def _serve(
    rotator: Rotator, request: Request, seconds_left: Callable[[], float] | None
) -> dict[str, Any]:
    if isinstance(request, RotationEvent):
        done = rotator.rotation_step(request)
        return {
            "statusCode": 200,
            "step": done.step.value,
            "UserName": done.user_name,
            "AccessKeyId": done.key_id,
            "outcome": done.outcome,
        }
    if isinstance(request, RotateRequest):
        result = rotator.rotate(
            request.user_name,
            grace_days=request.grace_days,
            delete_after_days=request.delete_after_days,
        )
        return _user_response(result)
    if isinstance(request, RestoreRequest):
        return _user_response(rotator.restore(request.user_name))
    if isinstance(request, PlanRequest):
        return {"statusCode": 200, "body": run_json(rotator.plan_all(at=request.at, forecast=True))}
    if isinstance(request, RetireRequest):
        run = rotator.retire()
    else:
        run = rotator.run(seconds_left=seconds_left)
        _publish_findings(rotator, run)
    _count(run, full_run=isinstance(request, RunRequest))
    if run.failures and run.failures[0].error is not None:
        logger.error("run finished with failures", extra={"failed": len(run.failures)})
        raise run.failures[0].error
    return {"statusCode": 200, "body": run_json(run)}


def _publish_findings(rotator: Rotator, run: RunResult) -> None:
    """Security Hub findings after a scheduled run; a failure is logged and counted, never
    raised (the run itself went as its results say)."""
    if rotator.findings is None:
        return
    published = rotator.findings.publish(run)
    if published.failed:
        metrics.add_metric(name="FindingsFailed", unit=MetricUnit.Count, value=published.failed)
        logger.error("Security Hub findings not all published", extra={"failed": published.failed})


def _user_response(result: UserResult) -> dict[str, Any]:
    _count_user(result)
    body = key_rows(result.user_name, result.keys)
    return {
        "statusCode": 200,
        "body": body,
        "status": result.status.value,
        "mode": result.mode.value,
        "message": result.message,
    }


def _count(run: RunResult, *, full_run: bool) -> None:
    """A run's metrics (:mod:`keyturn.rotation.metrics`); a full run adds the silence ones."""
    counts: dict[str, float] = dict(run_counts(run.users))
    if full_run:
        counts.update(silence_counts(run))
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _count_user(result: UserResult) -> None:
    for name, value in step_counts(result).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
