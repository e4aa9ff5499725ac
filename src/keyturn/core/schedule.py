"""The dated actions ahead of a snapshot: what the scan table shows as "next"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core.actions import ActionKind, Snapshot
from keyturn.core.deadlines import RunClock
from keyturn.core.models import AccessKey, StoredState, mask_key_id
from keyturn.core.policy import Policy
from keyturn.core.roles import (
    KeyRoles,
    classify,
    delete_after_days,
    deletion_run,
    incumbent_key,
    retirement,
    rotation_due,
)

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
        due = rotation_due(incumbent, policy, snapshot.state.switch_days)
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
            when = dates.capped_when(clock, now)
        return [Upcoming(when, ActionKind.DEACTIVATE, previous.key_id)] if when else []
    deactivated = state.deactivated_time(previous.key_id)
    if deactivated is None:
        return []
    end = deactivated + timedelta(days=delete_after_days(state, policy))
    return [Upcoming(clock.run_after_wait(end, now), ActionKind.DELETE, previous.key_id)]


def retirement_notes(snapshot: Snapshot, policy: Policy, now: datetime) -> list[str]:
    """What the plan says when the cap decides an active previous key's deactivation.

    A key first seen near the cap has its grace period end at the cap; a key already past it
    (or so near that the floor outlasts the cap) is retired on the shortest safe schedule, the
    floor, and stays active past the cap until then. Either way the note gives the date.
    """
    roles = classify(snapshot, policy.max_run)
    previous, current = roles.previous, roles.current
    if previous is None or not previous.active or current is None or not current.active:
        return []
    dates, clock = retirement(snapshot.state, previous, policy), policy.clock
    overrun = dates.floor_overruns_cap(clock, now)
    if not overrun and not dates.shortened(clock, now):
        return []
    when = dates.when(clock, now)
    shown, cap = mask_key_id(previous.key_id), policy.max_active_days
    age = (dates.stored - previous.created) / timedelta(days=1)
    if overrun:
        floor = (dates.floor_end - dates.stored).days
        return [
            f"{shown} was {age:.2f} days old when replaced: the {floor}-day "
            f"grace floor keeps it active past the {cap}-day cap; it is deactivated on "
            f"{_iso(when)}"
        ]
    return [
        f"{shown} was {age:.2f} days old when replaced: its grace period ends at the {cap}-day "
        f"cap, on {_iso(when)}"
    ]


def _earliest(snapshot: Snapshot) -> datetime | None:
    """The earliest moment a deadline of this snapshot counts from."""
    state = snapshot.state
    moments = [k.created for k in snapshot.keys] + [
        m for m in (state.stored_at, state.deactivated_at) if m is not None
    ]
    return min(moments, default=None)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def deletion_announced(state: StoredState, key_id: str, policy: Policy, now: datetime) -> bool:
    """True if deleting ``key_id`` at ``now`` is what its ``deactivated`` notice announced:
    the notice went out (a ``told:`` mark) and this is the run it named. A deletion on any
    other run (runs were missed, the schedule changed) is news."""
    deactivated = state.deactivated_time(key_id)
    if deactivated is None or not state.deactivation_told:
        return False
    named = deletion_run(state, policy, deactivated, deactivated)
    return abs(now - named) <= policy.clock.tolerance
