"""What a run counts, by metric name: the figures every face emits the same way.

The single-account function (:mod:`keyturn.handler`) and the fleet worker
(:mod:`keyturn.fleet.worker`) emit these in namespace ``keyturn``, so the template's alarms
read the same names whichever face ran. Pure: the faces hand the counts to Powertools.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from keyturn.core.actions import ActionKind
from keyturn.rotation.results import Status, UserResult

METRIC_BY_ACTION = {
    ActionKind.CREATE: "KeysRotated",
    ActionKind.DEACTIVATE: "KeysDeactivated",
    ActionKind.DELETE: "KeysDeleted",
}
METRIC_BY_STATUS = {
    Status.REFUSED: "RotationsRefused",
    Status.FAILED: "RotationsFailed",
    Status.DEFERRED: "UsersDeferred",
}


def step_counts(result: UserResult) -> Counter[str]:
    """The keys one user's result created, deactivated and deleted."""
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
