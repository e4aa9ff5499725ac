"""What a run counts, by metric name: the figures every face emits the same way.

The single-account function (:mod:`keyturn.handler`) and the fleet worker
(:mod:`keyturn.fleet.worker`) emit these in namespace ``keyturn``, so the template's alarms
read the same names whichever face ran. Pure: the faces hand the counts to Powertools.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from keyturn.core.actions import ActionKind
from keyturn.core.rollout import Mode
from keyturn.rotation.results import RunResult, Status, UserResult

METRIC_BY_ACTION = {
    ActionKind.CREATE: "KeysRotated",
    ActionKind.DEACTIVATE: "KeysDeactivated",
    ActionKind.DELETE: "KeysDeleted",
}
AUDIT_METRIC_BY_ACTION = {
    ActionKind.CREATE: "KeysWouldRotate",
    ActionKind.DEACTIVATE: "KeysWouldDeactivate",
    ActionKind.DELETE: "KeysWouldDelete",
}
"""Audit mode counts what it would have done under its own names, never as done."""
METRIC_BY_STATUS = {
    Status.REFUSED: "RotationsRefused",
    Status.FAILED: "RotationsFailed",
    Status.DEFERRED: "UsersDeferred",
}


def step_counts(result: UserResult) -> Counter[str]:
    """The keys one user's result created, deactivated and deleted (in audit mode: would
    have, under the ``KeysWould*`` names)."""
    if result.mode is Mode.AUDIT:
        kinds = [action.kind for action in result.plan.actions]
        return Counter(name for kind in kinds if (name := AUDIT_METRIC_BY_ACTION.get(kind)))
    return Counter(name for step in result.done if (name := METRIC_BY_ACTION.get(step.action.kind)))


def run_counts(users: Iterable[UserResult]) -> Counter[str]:
    """Every metric a run's users add up to: their steps, and the users refused, failed and
    deferred. Names with nothing to count are absent."""
    counts: Counter[str] = Counter()
    for user in users:
        counts.update(step_counts(user))
        if name := METRIC_BY_STATUS.get(user.status):
            counts[name] += 1
    return counts


def silence_counts(run: RunResult) -> dict[str, float]:
    """The silence metrics of a full run (``{"action": "run"}``, what the schedule sends; not
    the retirement pass, which sees only users in a grace period), which the template's alarms
    watch: ``KeysPastCap`` (managed active keys older than their cap after the run, 0
    included, so the alarm follows each run's answer) and ``RunsSucceeded`` (1 when no user
    failed, so a schedule that stopped or a run that always fails is noticed by the missing
    data)."""
    found = {"KeysPastCap": float(run.keys_past_cap)}
    if not run.failures:
        found["RunsSucceeded"] = 1.0
    return found
