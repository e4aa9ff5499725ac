"""What a plan is made of: actions with reasons, refusals, and the pure state transitions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from keyturn.core.models import AccessKey, KeyStatus, StoredState

PLANNED_KEY_ID = "(new key)"
"""Stands for the key a planned CREATE will make, until IAM names it."""


class ActionKind(StrEnum):
    CREATE = "create"
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    WARN = "warn"
    RECORD_DEACTIVATION = "record-deactivation"
    CLEAR_PENDING = "clear-pending"
    POSTPONE = "postpone"
    RECORD_SWITCH = "record-switch"


class Reason(StrEnum):
    NO_KEY = "no-key"
    NO_ACTIVE_KEY = "no-active-key"
    ROTATION_DUE = "rotation-due"
    FORCED = "forced"
    CURRENT_INACTIVE = "current-inactive"
    GRACE_ELAPSED = "grace-elapsed"
    DEACTIVATION_SOON = "deactivation-soon"
    DEACTIVATED_OUTSIDE = "deactivated-outside-keyturn"
    RESTORE_WINDOW_ELAPSED = "restore-window-elapsed"
    UNDELIVERED = "undelivered-key"
    MAKE_ROOM = "make-room"
    STALE_MARK = "stale-in-flight-mark"
    RESTORED = "restored"
    PREVIOUS_IN_USE = "previous-key-in-use"
    MAX_AGE_ENFORCED = "max-active-days-reached"
    CONSUMER_SWITCHED = "consumer-switched"


MUTATING = frozenset({ActionKind.CREATE, ActionKind.DEACTIVATE, ActionKind.DELETE})


@dataclass(frozen=True)
class Action:
    """One step of a plan.

    ``key_id`` is the key acted on; for CREATE it is the key being replaced (None if none), and
    ``grace_days``/``delete_after_days`` are the schedule recorded for that replaced key. ``due``
    is the date a WARN announces, for POSTPONE the run of the hard cap (None when not
    enforced), and for CREATE the run on which the replaced active key will be deactivated if
    nobody still uses it (``grace_days`` on, or sooner at its cap: what the rotation notice can
    promise). Dates are runs on the policy's run clock.
    """

    kind: ActionKind
    reason: Reason
    key_id: str | None = None
    detail: str = ""
    grace_days: int = 0
    delete_after_days: int = 0
    due: datetime | None = None
    switch_days: float | None = None
    """For RECORD_SWITCH, and a DEACTIVATE after the consumer switched: the consumer's switch
    delay measured for the current key (recorded in ``keyturn:switch-days``)."""

    @property
    def mutates_keys(self) -> bool:
        return self.kind in MUTATING


@dataclass(frozen=True)
class Snapshot:
    """A user's keys and stored state at one moment."""

    keys: tuple[AccessKey, ...]
    state: StoredState

    def key(self, key_id: str | None) -> AccessKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


def apply(
    snapshot: Snapshot, action: Action, now: datetime, new_key_id: str = PLANNED_KEY_ID
) -> Snapshot:
    """The snapshot after ``action`` succeeded at ``now``: the planner's model of the world."""
    keys, state = snapshot.keys, snapshot.state
    match action.kind:
        case ActionKind.CREATE:
            new = AccessKey(new_key_id, KeyStatus.ACTIVE, now)
            stored = StoredState(
                current_key_id=new_key_id,
                stored_at=now,
                previous_key_id=action.key_id,
                grace_days=action.grace_days,
                delete_after_days=action.delete_after_days,
                verified_key_id=new_key_id,
                verified_at=now,
            )
            return Snapshot((*keys, new), stored)
        case ActionKind.DEACTIVATE:
            keys = tuple(_with_status(k, action.key_id, KeyStatus.INACTIVE) for k in keys)
            deactivated = _recorded_deactivation(state, action.key_id, now)
            return Snapshot(keys, _recorded_switch(deactivated, action, state.current_key_id))
        case ActionKind.DELETE:
            return Snapshot(tuple(k for k in keys if k.key_id != action.key_id), state)
        case ActionKind.CLEAR_PENDING:
            return Snapshot(keys, _cleared(snapshot, action))
        case _:
            return Snapshot(keys, _marked(state, action, now))


def _marked(state: StoredState, action: Action, now: datetime) -> StoredState:
    """The state after an action that only changes marks."""
    match action.kind:
        case ActionKind.RECORD_DEACTIVATION:
            return _recorded_deactivation(state, action.key_id, now)
        case ActionKind.WARN:
            return replace(state, warned_key_id=action.key_id)
        case ActionKind.POSTPONE:
            return replace(state, postponed_key_id=action.key_id, postponed_at=now)
        case ActionKind.RECORD_SWITCH:
            return _recorded_switch(state, action, action.key_id)
        case _:
            return replace(state, pending_since=None)


def _cleared(snapshot: Snapshot, action: Action) -> StoredState:
    """The stale mark emptied; with ``key_id``, the delivered key's lost promotion marks
    restored: its proof's bound (``due``) and, for an active previous key, the in-grace mark."""
    state = replace(snapshot.state, pending_since=None)
    if action.key_id is None or action.due is None:
        return state
    state = replace(state, verified_key_id=action.key_id, verified_at=action.due)
    previous = snapshot.key(state.previous_key_id)
    if previous is not None and previous.active and state.in_grace_key_id is None:
        state = replace(state, in_grace_key_id=previous.key_id)
    return state


def _recorded_switch(state: StoredState, action: Action, key_id: str | None) -> StoredState:
    if action.switch_days is None:
        return state
    days = (*state.switch_days, action.switch_days)[-3:]
    return replace(state, switch_key_id=key_id, switch_days=days)


def _with_status(key: AccessKey, key_id: str | None, status: KeyStatus) -> AccessKey:
    return replace(key, status=status) if key.key_id == key_id else key


def _recorded_deactivation(state: StoredState, key_id: str | None, now: datetime) -> StoredState:
    in_grace = None if state.in_grace_key_id == key_id else state.in_grace_key_id
    return replace(
        state,
        deactivated_key_id=key_id,
        deactivated_at=now,
        deactivation_told=True,
        in_grace_key_id=in_grace,
    )
