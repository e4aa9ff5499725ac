"""The dated actions ahead of a snapshot: what the scan table shows as "next"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core import usage
from keyturn.core.actions import ActionKind, Snapshot
from keyturn.core.deadlines import RunClock
from keyturn.core.models import AccessKey
from keyturn.core.policy import Policy
from keyturn.core.roles import KeyRoles, classify, delete_after_days, incumbent_key, retirement

UNSCHEDULED = RunClock(interval=None)


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

    With ``now``, each date is the run that will act, on the policy's run clock (``now``,
    ``now + run_interval``, ...), and a previous key whose deactivation is postponed shows the
    run of its cap instead of its past due date (nothing when the cap is not enforced). Without
    ``now``, the dates are the deadlines themselves.
    """
    roles = classify(snapshot, policy.max_run)
    if now is None:  # no clock: from before any date of the snapshot, each is its deadline
        clock, at = UNSCHEDULED, _earliest(snapshot)
    else:
        clock, at = policy.clock, now
    if at is None:
        return ()
    upcoming = _previous_key_dates(roles, snapshot, policy, clock, at, postponed=now is not None)
    incumbent = incumbent_key(roles)
    if isinstance(incumbent, AccessKey) and incumbent.active:
        due = incumbent.created + timedelta(days=policy.rotate_after_days)
        when = clock.run_before_limit(due, at)
        upcoming.append(Upcoming(when, ActionKind.CREATE, incumbent.key_id))
    return tuple(sorted(upcoming, key=lambda u: u.when))


def _previous_key_dates(
    roles: KeyRoles,
    snapshot: Snapshot,
    policy: Policy,
    clock: RunClock,
    now: datetime,
    *,
    postponed: bool,
) -> list[Upcoming]:
    state, previous = snapshot.state, roles.previous
    if previous is None:
        return []
    if previous.active:
        dates = retirement(state, previous, policy)
        when: datetime | None = dates.when(clock, now)
        if postponed and dates.due(clock, now):
            when = usage.cap_run(previous, policy, now)
        return [Upcoming(when, ActionKind.DEACTIVATE, previous.key_id)] if when else []
    deactivated = state.deactivated_time(previous.key_id)
    if deactivated is None:
        return []
    end = deactivated + timedelta(days=delete_after_days(state, policy))
    return [Upcoming(clock.run_after_wait(end, now), ActionKind.DELETE, previous.key_id)]


def _earliest(snapshot: Snapshot) -> datetime | None:
    """The earliest moment a deadline of this snapshot counts from."""
    state = snapshot.state
    moments = [k.created for k in snapshot.keys] + [
        m for m in (state.stored_at, state.deactivated_at) if m is not None
    ]
    return min(moments, default=None)
