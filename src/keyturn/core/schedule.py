"""The dated actions ahead of a snapshot: what the scan table shows as "next"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core import usage
from keyturn.core.actions import ActionKind, Snapshot
from keyturn.core.models import AccessKey
from keyturn.core.policy import Policy
from keyturn.core.roles import classify, deactivation_due, delete_after_days, incumbent_key


@dataclass(frozen=True)
class Upcoming:
    """A scheduled action after the plan: what, to which key, when."""

    when: datetime
    kind: ActionKind
    key_id: str


def schedule(
    snapshot: Snapshot, policy: Policy, *, now: datetime | None = None
) -> tuple[Upcoming, ...]:
    """The next dated actions for this snapshot, earliest first.

    With ``now``, a previous key whose deactivation is postponed shows the cap instead of its
    past due date (and nothing when the cap is not enforced).
    """
    roles, state = classify(snapshot, policy.max_run), snapshot.state
    upcoming: list[Upcoming] = []
    previous = roles.previous
    if previous is not None and previous.active:
        due: datetime | None = deactivation_due(state, previous, policy)
        if now is not None and due is not None and now >= due:
            due = usage.cap(previous, policy) if policy.enforce_max_age else None
        if due is not None:
            upcoming.append(Upcoming(due, ActionKind.DEACTIVATE, previous.key_id))
    elif previous is not None and (deactivated := state.deactivated_time(previous.key_id)):
        due = deactivated + timedelta(days=delete_after_days(state, policy))
        upcoming.append(Upcoming(due, ActionKind.DELETE, previous.key_id))
    incumbent = incumbent_key(roles)
    if isinstance(incumbent, AccessKey) and incumbent.active:
        due = incumbent.created + timedelta(days=policy.rotate_after_days)
        upcoming.append(Upcoming(due, ActionKind.CREATE, incumbent.key_id))
    return tuple(sorted(upcoming, key=lambda u: u.when))
