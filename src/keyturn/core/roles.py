"""What keyturn knows of each key: current, previous, undelivered or foreign; and its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core.actions import Snapshot
from keyturn.core.deadlines import RunClock
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

    A key is undelivered (ours, secret never stored) when it is unknown to the state and was
    created within ``max_run`` of the in-flight mark; any other unknown key is foreign.
    """
    state = snapshot.state
    known = {state.current_key_id, state.previous_key_id}
    unknown = [k for k in snapshot.keys if k.key_id not in known]
    pending = state.pending_since
    ours = tuple(
        k
        for k in unknown
        if pending is not None and pending - CLOCK_SKEW <= k.created <= pending + max_run
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


@dataclass(frozen=True)
class Retirement:
    """When keyturn deactivates a previous key, on the run clock (:mod:`keyturn.core.deadlines`).

    The grace period is a wait: it ends ``grace_days`` after the successor was stored.

    Attributes:
        stored: when the successor was stored (the key's creation if unknown).
        grace_end: ``stored`` plus the grace period.
    """

    stored: datetime
    grace_end: datetime

    def due(self, clock: RunClock, now: datetime) -> bool:
        """True if the grace period is over on the run at ``now``."""
        return clock.waited(self.grace_end, now)

    def when(self, clock: RunClock, now: datetime) -> datetime:
        """The run on which the key is deactivated if nobody still uses it."""
        return clock.run_after_wait(self.grace_end, now)


def retirement(state: StoredState, previous: AccessKey, policy: Policy) -> Retirement:
    """The previous key's grace period."""
    grace = state.grace_days if state.grace_days is not None else policy.grace_days
    stored = state.stored_at or previous.created
    return Retirement(stored, stored + timedelta(days=grace))


def delete_after_days(state: StoredState, policy: Policy) -> int:
    return (
        state.delete_after_days
        if state.delete_after_days is not None
        else (policy.delete_after_days)
    )
