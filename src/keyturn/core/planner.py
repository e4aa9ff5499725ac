"""The planner: ``plan(user, keys, stored_state, policy, now) -> Plan``.

A pure function of key metadata, stored state, policy and time. It simulates each step with
:func:`keyturn.core.actions.apply` and keeps going until nothing more is due, so a plan applied
and planned again at the same moment yields nothing new.

Rules, in order of precedence:

1. An exempt user is only reported.
2. A creation another run started less than ``max_run`` ago is left alone.
3. A key created after an in-flight mark but never delivered is deactivated, then deleted.
4. The previous key is deactivated ``grace_days`` after its successor was stored, or at its
   ``max_active_days`` cap if that comes first and is enforced, but not before the floor
   (``min_grace_days``); it is deleted ``delete_after_days`` after deactivation (only while the
   current key is active). Usage-aware (see :mod:`keyturn.core.usage`): a previous key still
   in use is not deactivated but postponed (the owner told), until the cap when enforced; once
   the consumer switched it is deactivated early.
5. A rotation (due at ``rotate_after_days``, forced, no key, no active key, current key
   inactive) creates a new key,
   making room first by deleting an inactive key only where allowed; never an active one. A
   rotation Secrets Manager asked for (``make_room``) may also retire the previous key, if that
   cannot cut off a consumer.

Every deadline is kept on the run clock (:mod:`keyturn.core.deadlines`): waits (grace, floor,
restore window) end on the first run at or after them, limits (rotation age, cap) are kept by
the last run before them, both to within ``Policy.run_tolerance``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from keyturn.core import usage
from keyturn.core.actions import Action, ActionKind, Reason, Snapshot, apply
from keyturn.core.models import AccessKey, StoredState, User
from keyturn.core.policy import Policy
from keyturn.core.roles import (
    KeyRoles,
    Refusal,
    Retirement,
    classify,
    delete_after_days,
    incumbent_key,
    made_under_mark,
    retirement,
    rotation_due,
)
from keyturn.core.room import free_slot, free_slot_by_retiring, only_previous_blocks
from keyturn.core.schedule import Upcoming, retirement_notes, schedule

__all__ = [
    "KeyRoles",
    "Plan",
    "Refusal",
    "Retirement",
    "Upcoming",
    "Wait",
    "classify",
    "future_mark",
    "next_step",
    "plan",
    "retirement",
    "schedule",
]

MAX_STEPS = 12
FUTURE_SKEW = timedelta(minutes=5)
"""How far a stored time may be ahead of this run's clock (clocks of two runs differ)."""


@dataclass(frozen=True)
class Wait:
    note: str


Decision = Action | Refusal | Wait | None


@dataclass(frozen=True)
class Plan:
    """What to do to one user's keys now, and why; or why not."""

    user_name: str
    actions: tuple[Action, ...] = ()
    refusal: str | None = None
    notes: tuple[str, ...] = ()
    upcoming: tuple[Upcoming, ...] = ()

    @property
    def next_upcoming(self) -> Upcoming | None:
        return self.upcoming[0] if self.upcoming else None


def plan(  # noqa: PLR0913 - the lead's public signature plus one keyword-only flag
    user: User,
    keys: Iterable[AccessKey],
    stored_state: StoredState | None,
    policy: Policy,
    now: datetime,
    *,
    force: bool = False,
    make_room: bool = False,
) -> Plan:
    """Decide what to do to ``user``'s keys at ``now``.

    Parameters:
        force: rotate now even if the current key is not due (the original recipe's event);
            ignored within ``policy.force_cooldown`` of the last delivery.
        make_room: Secrets Manager asked for this rotation: rotate now whatever the cooldown,
            retiring the previous key first if it is safe to (see ``usage.retirable``).
    """
    force, requested_room = force or make_room, make_room
    snapshot = Snapshot(tuple(keys), stored_state or StoredState())
    if policy.exempt:
        return Plan(user.name, notes=("exempt: reported only",), upcoming=())
    implausible = future_mark(snapshot.state, now)
    if implausible is not None:
        return Plan(user.name, refusal=implausible)
    if requested_room and rotated_just_now(snapshot, policy, now):
        # A second requested rotation in a row is refused; what is due anyway still happens.
        regular = plan(user, snapshot.keys, stored_state, policy, now)
        if ActionKind.CREATE in {a.kind for a in regular.actions}:
            return regular
        return replace(regular, refusal=regular.refusal or _second_rotation(snapshot.state, policy))
    actions: list[Action] = []
    refusal: str | None = None
    notes: list[str] = []
    for _ in range(MAX_STEPS):
        step = next_step(snapshot, policy, now, force=force, make_room=make_room)
        if isinstance(step, Action):
            actions.append(step)
            snapshot = apply(snapshot, step, now)
            if step.kind is ActionKind.CREATE:
                make_room = False  # a request asks for one rotation, not one per step
            continue
        if isinstance(step, Refusal):
            refusal = step.reason
        elif isinstance(step, Wait):
            notes.append(step.note)
        break
    cooldown = force and not requested_room
    notes.extend(_cooldown_note(snapshot, policy, now, force=cooldown, acted=bool(actions)))
    notes.extend(retirement_notes(snapshot, policy, now))
    upcoming = schedule(snapshot, policy, now=now)
    return Plan(user.name, tuple(actions), refusal, tuple(notes), upcoming)


def next_step(
    snapshot: Snapshot, policy: Policy, now: datetime, *, force: bool, make_room: bool = False
) -> Decision:
    """The single next thing due for this snapshot, by the rules in the module docstring."""
    state, roles = snapshot.state, classify(snapshot, policy.max_run)
    if state.pending_since is not None and now - state.pending_since < policy.max_run:
        return Wait(f"a rotation started at {_iso(state.pending_since)} is still in progress")
    if roles.undelivered:
        key = roles.undelivered[0]
        kind = ActionKind.DEACTIVATE if key.active else ActionKind.DELETE
        return Action(kind, Reason.UNDELIVERED, key.key_id, "created but its secret was lost")
    if state.pending_since is not None:
        return _clear_pending(snapshot, state.pending_since, policy)
    return _previous_step(roles, state, policy, now) or _rotation_step(
        snapshot, roles, policy, now, force=force, make_room=make_room
    )


def _clear_pending(snapshot: Snapshot, pending: datetime, policy: Policy) -> Action:
    """Empty a stale in-flight mark. If its creation was delivered (the current key is the
    key it made) but the promotion's marks were lost (a crash after the stage moved), the
    action also records the proof's bound: every call keyturn made with that key was within
    ``max_run`` of the mark."""
    state, current = snapshot.state, snapshot.key(snapshot.state.current_key_id)
    if (
        current is None
        or not made_under_mark(current, state, policy.max_run)
        or state.verified_time(current.key_id) is not None
    ):
        return Action(ActionKind.CLEAR_PENDING, Reason.STALE_MARK)
    detail = "delivered; its proof mark recorded as the mark's time plus max_run"
    return Action(
        ActionKind.CLEAR_PENDING,
        Reason.STALE_MARK,
        current.key_id,
        detail,
        due=pending + policy.max_run,
    )


def _previous_step(roles: KeyRoles, state: StoredState, policy: Policy, now: datetime) -> Decision:
    previous, current = roles.previous, roles.current
    if current is None or not current.active:
        return None
    if previous is None:
        return usage.record_switch(None, current, state, policy)
    if previous.active:
        return _grace_step(previous, current, state, policy, now)
    return _restore_window_step(previous, state, policy, now) or usage.record_switch(
        previous, current, state, policy
    )


def _grace_step(
    previous: AccessKey, current: AccessKey, state: StoredState, policy: Policy, now: datetime
) -> Decision:
    dates, clock = retirement(state, previous, policy), policy.clock
    if dates.due(clock, now):
        return usage.retire_at_grace_end(previous, current, state, policy, now)
    # a restored key was asked back: no early retirement before its fresh grace period ends
    early = None if dates.restored else usage.early_retirement(previous, current, state, policy)
    if early is not None:
        return early
    due = dates.when(clock, now)
    if _reminder_due(policy, due, now) and state.warned_key_id != previous.key_id:
        detail = f"deactivation on {_iso(due)}"
        return Action(ActionKind.WARN, Reason.DEACTIVATION_SOON, previous.key_id, detail, due=due)
    return None


def _reminder_due(policy: Policy, due: datetime, now: datetime) -> bool:
    """True on the runs that send the "deactivation coming" reminder (none by default)."""
    reminder = policy.warn_before
    return reminder > timedelta(0) and policy.clock.waited(due - reminder, now)


def _restore_window_step(
    previous: AccessKey, state: StoredState, policy: Policy, now: datetime
) -> Decision:
    deactivated = state.deactivated_time(previous.key_id)
    if deactivated is None:
        return Action(ActionKind.RECORD_DEACTIVATION, Reason.DEACTIVATED_OUTSIDE, previous.key_id)
    if policy.clock.waited(deactivated + _days(delete_after_days(state, policy)), now):
        return Action(ActionKind.DELETE, Reason.RESTORE_WINDOW_ELAPSED, previous.key_id)
    return None


def _rotation_step(
    snapshot: Snapshot,
    roles: KeyRoles,
    policy: Policy,
    now: datetime,
    *,
    force: bool,
    make_room: bool,
) -> Decision:
    incumbent = incumbent_key(roles)
    if isinstance(incumbent, Refusal):
        return incumbent
    reason = _rotation_reason(incumbent, snapshot, policy, now, force=force, make_room=make_room)
    if reason is None:
        return None
    room = free_slot(snapshot, roles, incumbent, policy, now)
    if isinstance(room, Refusal) and make_room and roles.current is not None:
        room = free_slot_by_retiring(roles, snapshot.state, policy, now, room)
    if isinstance(room, Refusal) and not force and only_previous_blocks(snapshot, roles):
        return Wait(f"rotation is due ({reason.value}) but waits: {room.reason}")
    if room is not None:
        return room
    return Action(
        ActionKind.CREATE,
        reason,
        incumbent.key_id if incumbent else None,
        grace_days=policy.grace_days,
        delete_after_days=policy.delete_after_days,
        due=_replaced_key_retires(incumbent, policy, now),
    )


def _replaced_key_retires(
    incumbent: AccessKey | None, policy: Policy, now: datetime
) -> datetime | None:
    """The run on which the key a CREATE replaces is deactivated, if it is active and unused."""
    if incumbent is None or not incumbent.active:
        return None
    stored = StoredState(stored_at=now, grace_days=policy.grace_days)
    return retirement(stored, incumbent, policy).when(policy.clock, now)


def _rotation_reason(
    incumbent: AccessKey | None,
    snapshot: Snapshot,
    policy: Policy,
    now: datetime,
    *,
    force: bool,
    make_room: bool,
) -> Reason | None:
    if incumbent is None:
        return Reason.NO_KEY if not snapshot.keys else Reason.NO_ACTIVE_KEY
    if not incumbent.active:
        return Reason.CURRENT_INACTIVE
    if make_room or (force and not _fresh(snapshot.state, policy, now)):
        return Reason.FORCED
    # a key made in this plan is never due again in it, however long the run interval
    due = rotation_due(incumbent, policy, snapshot.state.switch_days)
    if incumbent.created < now and policy.clock.last_call(due, now):
        return Reason.ROTATION_DUE
    return None


def future_mark(state: StoredState, now: datetime) -> str | None:
    """Why the stored state cannot be keyturn's: a time later than now (plus clock skew).

    keyturn stamps its marks with the time it acts, so a future stamp was written by someone
    else; acting on it could stop rotation for good (a mark "in flight" until 9999).
    """
    stamps = {
        "keyturn:pending-since": state.pending_since,
        "the stored version's StoredAt": state.stored_at,
        "keyturn:deactivated": state.deactivated_at,
        "keyturn:verified": state.verified_at,
        "keyturn:postponed": state.postponed_at,
        "keyturn:restored": state.restored_at,
    }
    for where, moment in stamps.items():
        if moment is not None and moment > now + FUTURE_SKEW:
            return f"{where} is in the future ({_iso(moment)}); keyturn did not write it"
    return None


def rotated_just_now(snapshot: Snapshot, policy: Policy, now: datetime) -> bool:
    """True when the active current key was stored within the cooldown."""
    current = snapshot.key(snapshot.state.current_key_id)
    return current is not None and current.active and _fresh(snapshot.state, policy, now)


def _second_rotation(state: StoredState, policy: Policy) -> str:
    stored = state.stored_at
    again = stored + policy.force_cooldown if stored else None
    return (
        f"the current key was stored at {_iso(stored)}; a second requested rotation in a row "
        f"is refused until {_iso(again)}"
    )


def _fresh(state: StoredState, policy: Policy, now: datetime) -> bool:
    return state.stored_at is not None and now - state.stored_at < policy.force_cooldown


def _cooldown_note(
    snapshot: Snapshot, policy: Policy, now: datetime, *, force: bool, acted: bool
) -> list[str]:
    if force and not acted and _fresh(snapshot.state, policy, now):
        stored = snapshot.state.stored_at
        return [f"current key was stored at {_iso(stored)}; not rotating again so soon"]
    return []


def _days(days: int) -> timedelta:
    return timedelta(days=days)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "unknown"
