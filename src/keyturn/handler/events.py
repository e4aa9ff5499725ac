"""Parsing of the Lambda handler's events into typed requests; bad input never gets further.

Accepted events:

* ``{"action": "create", "username": NAME}`` (the original recipe), optional ``grace_days`` and
  ``delete_after_days``: rotate NAME now;
* an EventBridge ``Scheduled Event`` or ``{"action": "run"}``: apply the policy to all users;
* ``{"action": "retire"}`` (the hourly schedule): deactivate previous keys whose consumer
  switched, for the users in a grace period only;
* ``{"action": "plan"}``, optional ``"at": ISO date``: what a run would do; changes nothing;
* ``{"action": "restore", "username": NAME}``: make the previous key current again;
* Secrets Manager's rotation event ``{"Step": ..., "SecretId": ..., "ClientRequestToken": ...}``
  (see :mod:`keyturn.rotation.secrets_manager`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyturn.core.inputs import parse_at, parse_user_name, show
from keyturn.core.policy import MAX_DAYS
from keyturn.errors import BadRequestError
from keyturn.rotation.secrets_manager import RotationEvent, Step

SCHEDULED_SOURCES = frozenset({"aws.events", "aws.scheduler"})
_FIELDS = {
    "create": {"action", "username", "grace_days", "delete_after_days"},
    "run": {"action"},
    "retire": {"action"},
    "plan": {"action", "at"},
    "restore": {"action", "username"},
}


@dataclass(frozen=True)
class RotateRequest:
    user_name: str
    grace_days: int | None = None
    delete_after_days: int | None = None


@dataclass(frozen=True)
class RunRequest:
    pass


@dataclass(frozen=True)
class RetireRequest:
    pass


@dataclass(frozen=True)
class PlanRequest:
    at: datetime | None = None


@dataclass(frozen=True)
class RestoreRequest:
    user_name: str


Request = RotateRequest | RunRequest | RetireRequest | PlanRequest | RestoreRequest | RotationEvent
ROTATION_FIELDS = {"Step", "SecretId", "ClientRequestToken", "RotationToken"}


def parse_event(event: object) -> Request:
    """Turn a handler event into a request.

    Raises:
        BadRequestError: the event is not one keyturn understands; the message says why.
    """
    if not isinstance(event, Mapping):
        raise BadRequestError(f"the event must be a JSON object, not {type(event).__name__}")
    if _is_scheduled(event):
        return RunRequest()
    if "Step" in event:
        return _rotation_event(event)
    action = event.get("action")
    if not isinstance(action, str) or action not in _FIELDS:
        known = ", ".join(sorted(_FIELDS))
        raise BadRequestError(f"'action' must be one of {known}; got {show(action)}")
    unknown = sorted(str(k) for k in event if k not in _FIELDS[action])
    if unknown:
        raise BadRequestError(f"unknown field(s) for action {action!r}: {', '.join(unknown)}")
    return _request(action, event)


def _request(action: str, event: Mapping[str, Any]) -> Request:
    if action == "run":
        return RunRequest()
    if action == "retire":
        return RetireRequest()
    if action == "plan":
        return PlanRequest(parse_at(event["at"]) if "at" in event else None)
    if "username" not in event:
        raise BadRequestError(f"action {action!r} needs 'username'")
    user_name = parse_user_name(event["username"])
    if action == "restore":
        return RestoreRequest(user_name)
    return RotateRequest(
        user_name,
        _days(event, "grace_days"),
        _days(event, "delete_after_days"),
    )


def _rotation_event(event: Mapping[str, Any]) -> RotationEvent:
    unknown = sorted(str(k) for k in event if k not in ROTATION_FIELDS)
    if unknown:
        raise BadRequestError(f"unknown field(s) in a rotation event: {', '.join(unknown)}")
    step = event.get("Step")
    if step not in {s.value for s in Step}:
        raise BadRequestError(f"'Step' must be one of {', '.join(Step)}; got {show(step)}")
    secret_id, token = event.get("SecretId"), event.get("ClientRequestToken")
    if not isinstance(secret_id, str) or not 1 <= len(secret_id) <= 2048:
        raise BadRequestError(f"'SecretId' must be a secret name or ARN; got {show(secret_id)}")
    if not isinstance(token, str) or not 32 <= len(token) <= 64:
        raise BadRequestError("'ClientRequestToken' must be a 32-64 character string")
    return RotationEvent(Step(step), secret_id, token)


def _days(event: Mapping[str, Any], name: str) -> int | None:
    if name not in event:
        return None
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise BadRequestError(f"{name!r} must be a whole number from 0 to {MAX_DAYS}")
    return value


def _is_scheduled(event: Mapping[str, Any]) -> bool:
    source = event.get("source")
    return (
        event.get("detail-type") == "Scheduled Event"
        and isinstance(source, str)
        and source in SCHEDULED_SOURCES
    )
