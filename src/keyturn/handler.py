"""The Lambda face: ``keyturn.handler.lambda_handler(event, context)``.

Parses the event, builds the settings once, calls the same service as the CLI and renders the
result. Bad input answers 400, an unknown user 404, a safety refusal 409, and none of them
changes anything. Transient AWS failures raise, so Lambda's retries and the failure
destination apply; a retried event is safe (the engine is idempotent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from keyturn.aws import build_rotator
from keyturn.core.actions import ActionKind
from keyturn.engine import Rotator
from keyturn.errors import BadRequestError, KeyturnError, RefusedError, UserNotFoundError
from keyturn.events import PlanRequest, Request, RestoreRequest, RotateRequest, parse_event
from keyturn.render import key_rows, run_json
from keyturn.results import RunResult, Status, UserResult
from keyturn.settings import Settings
from keyturn.sm_rotation import RotationEvent, run_step

logger = Logger(service="keyturn")
metrics = Metrics(namespace="keyturn", service="keyturn")

RotatorFactory = Callable[[Settings, str], Rotator]
METRIC_BY_ACTION = {
    ActionKind.CREATE: "KeysRotated",
    ActionKind.DEACTIVATE: "KeysDeactivated",
    ActionKind.DELETE: "KeysDeleted",
}


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
    try:
        request = parse_event(event)
    except BadRequestError as exc:
        logger.warning("bad event", extra={"error": str(exc)})
        return {"statusCode": 400, "error": str(exc)}
    rotator = rotator_factory(Settings.from_env(os.environ), run_id)
    try:
        return _serve(rotator, request, seconds_left)
    except (UserNotFoundError, RefusedError) as exc:
        if isinstance(request, RotationEvent):
            _step_failed(request, exc)
            raise
        if isinstance(exc, UserNotFoundError):
            return {"statusCode": 404, "error": str(exc)}
        metrics.add_metric(name="RotationsRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 409, "error": str(exc)}
    except KeyturnError as exc:
        if isinstance(request, RotationEvent):
            _step_failed(request, exc)
        else:
            metrics.add_metric(name="RotationsFailed", unit=MetricUnit.Count, value=1)
        raise


def _step_failed(request: RotationEvent, exc: KeyturnError) -> None:
    """Secrets Manager must see a failed step fail, or it would finish a broken rotation."""
    metrics.add_metric(name="RotationsFailed", unit=MetricUnit.Count, value=1)
    logger.error("rotation step failed", extra={"step": request.step.value, "error": str(exc)})


def _serve(
    rotator: Rotator, request: Request, seconds_left: Callable[[], float] | None
) -> dict[str, Any]:
    if isinstance(request, RotationEvent):
        done = run_step(rotator, request)
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
        return {"statusCode": 200, "body": run_json(rotator.plan_all(at=request.at))}
    run = rotator.run(seconds_left=seconds_left)
    _count(run)
    if run.failures and run.failures[0].error is not None:
        logger.error("run finished with failures", extra={"failed": len(run.failures)})
        raise run.failures[0].error
    return {"statusCode": 200, "body": run_json(run)}


def _user_response(result: UserResult) -> dict[str, Any]:
    _count_user(result)
    body = key_rows(result.user_name, result.keys)
    return {
        "statusCode": 200,
        "body": body,
        "status": result.status.value,
        "message": result.message,
    }


def _count(run: RunResult) -> None:
    for user in run.users:
        _count_user(user)
        if user.status is Status.REFUSED:
            metrics.add_metric(name="RotationsRefused", unit=MetricUnit.Count, value=1)
        if user.status is Status.FAILED:
            metrics.add_metric(name="RotationsFailed", unit=MetricUnit.Count, value=1)
        if user.status is Status.DEFERRED:
            metrics.add_metric(name="UsersDeferred", unit=MetricUnit.Count, value=1)


def _count_user(result: UserResult) -> None:
    for step in result.done:
        name = METRIC_BY_ACTION.get(step.action.kind)
        if name:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
