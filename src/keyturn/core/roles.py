"""What keyturn knows of each key: current, previous, undelivered or foreign; and its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core.actions import Snapshot
from keyturn.core.models import AccessKey, StoredState, mask_key_id
from keyturn.core.policy import Policy

CLOCK_SKEW = timedelta(minutes=1)
DEFAULT_MAX_RUN = timedelta(minutes=15)


@dataclass(frozen=True)
class Refusal:
    reason: str


@dataclass(frozen=True)
class KeyRoles:
    """A user's keys sorted by what keyturn knows of them."""

    current: AccessKey | None
    previous: AccessKey | None
    undelivered: tuple[AccessKey, ...]
    foreign: tuple[AccessKey, ...]


def classify(snapshot: Snapshot, max_run: timedelta = DEFAULT_MAX_RUN) -> KeyRoles:
    """Sort keys into current, previous, undelivered and foreign.

    A key is undelivered (ours, secret never stored) when it is unknown to the state, absent
    from the keys the in-flight mark recorded, and created within ``max_run`` after the mark;
    any other unknown key is foreign. A mark that recorded no keys proves nothing.
    """
    state = snapshot.state
    known = {state.current_key_id, state.previous_key_id}
    unknown = [k for k in snapshot.keys if k.key_id not in known]
    pending, before = state.pending_since, state.keys_before
    ours = tuple(
        k
        for k in unknown
        if pending is not None
        and before is not None
        and k.key_id not in before
        and pending - CLOCK_SKEW <= k.created <= pending + max_run
    )
    return KeyRoles(
        current=snapshot.key(state.current_key_id),
        previous=(
            snapshot.key(state.previous_key_id)
            if state.previous_key_id != state.current_key_id
            else None
        ),
        undelivered=ours,
        foreign=tuple(k for k in unknown if k not in ours),
    )


def incumbent_key(roles: KeyRoles) -> AccessKey | Refusal | None:
    """The key a new one replaces: the stored current key, else the one active key."""
    if roles.current is not None:
        return roles.current
    active = [k for k in (roles.previous, *roles.foreign) if k is not None and k.active]
    if len(active) > 1:
        ids = " and ".join(mask_key_id(k.key_id) for k in active)
        return Refusal(f"two active keys ({ids}) and none delivered by keyturn")
    return active[0] if active else None


def deactivation_due(state: StoredState, previous: AccessKey, policy: Policy) -> datetime:
    """When the previous key's grace period ends."""
    grace = state.grace_days if state.grace_days is not None else policy.grace_days
    return (state.stored_at or previous.created) + timedelta(days=grace)


def delete_after_days(state: StoredState, policy: Policy) -> int:
    return (
        state.delete_after_days
        if state.delete_after_days is not None
        else (policy.delete_after_days)
    )
