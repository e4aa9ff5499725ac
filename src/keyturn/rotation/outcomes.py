"""What the service reports for one user: the inspection it planned from, and its results."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from keyturn.core.actions import PLANNED_KEY_ID, ActionKind, Snapshot
from keyturn.core.delivery import SecretRef
from keyturn.core.forecast import ManagedUser, NoDate, OnboardingForecast, forecast
from keyturn.core.models import AccessKey, User
from keyturn.core.planner import Plan
from keyturn.core.policy import Policy
from keyturn.errors import KeyturnError
from keyturn.rotation.executor import Context
from keyturn.rotation.results import Status, StepDone, UserResult

Seen = ManagedUser | NoDate | None
"""A managed user as the forecast reads it, or why it could not be read; None: not managed."""


@dataclass(frozen=True)
class Inspection:
    """A user's world as read now, and the plan for it."""

    user: User
    policy: Policy
    snapshot: Snapshot
    plan: Plan


def context(found: Inspection, now: datetime, secret: SecretRef) -> Context:
    keys = [k for k in found.snapshot.keys if k.key_id != PLANNED_KEY_ID]
    ids = tuple(k.key_id for k in keys)
    active = tuple(k.key_id for k in keys if k.active)
    return Context(found.user, now, found.policy, found.snapshot.state, secret, ids, active)


def creates_key(found: Inspection) -> bool:
    """True if the plan makes a new key: a rotation, which waits out the key's proof."""
    return found.plan.refusal is None and any(
        a.kind is ActionKind.CREATE for a in found.plan.actions
    )


def step_facts(step: StepDone) -> dict[str, object]:
    days = step.two_keys_active_days
    return {} if days is None else {"two_keys_active_days": days}


def no_date(user: User, managed: bool, reason: str) -> NoDate | None:
    return NoDate(user.name, reason) if managed else None


def forecast_of(seen: list[Seen], now: datetime) -> OnboardingForecast:
    """The forecast of the users read; those that could not be are listed without a date."""
    unread = tuple(s for s in seen if isinstance(s, NoDate))
    found = forecast([s for s in seen if isinstance(s, tuple)], now)
    if not unread:
        return found
    return replace(found, compliant_by=None, no_date=(*unread, *found.no_date))


def refused(user: User, reason: str, keys: tuple[AccessKey, ...] = ()) -> UserResult:
    """A refused user; ``keys``, when read, keep it counted in reports."""
    return UserResult(user.name, Status.REFUSED, Plan(user.name), keys, message=reason)


def failed(user: User, exc: KeyturnError) -> UserResult:
    return UserResult(user.name, Status.FAILED, Plan(user.name), message=str(exc), error=exc)


def deferred(user: User) -> UserResult:
    message = "deferred to the next run: this invocation's time was nearly up"
    return UserResult(user.name, Status.DEFERRED, Plan(user.name), message=message)


def as_read(result: UserResult, found: Inspection | None) -> UserResult:
    """A refused user's result with the keys and cap read before the refusal (a refusal
    changes nothing), so the keys it leaves past the cap are counted; others as they are."""
    if found is None or result.status is not Status.REFUSED:
        return result
    return replace(result, keys=found.snapshot.keys, max_active_days=found.policy.max_active_days)


def not_inspected(user: User, why: str) -> UserResult:
    """An unmanaged user reported without reading its keys: a scoped role may not."""
    return UserResult(user.name, Status.UNMANAGED, Plan(user.name), message=f"not inspected: {why}")


def planned_status(found: Inspection, *, managed: bool) -> Status:
    if not managed:
        return Status.UNMANAGED
    if found.policy.exempt:
        return Status.EXEMPT
    if found.plan.refusal is not None:
        return Status.REFUSED
    return Status.PLANNED if found.plan.actions else Status.UNCHANGED
