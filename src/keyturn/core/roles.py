"""What keyturn knows of each key: current, previous, undelivered or foreign; and its dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core.actions import Snapshot
from keyturn.core.deadlines import RunClock
from keyturn.core.lead import rotation_age_days
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
    ours = tuple(k for k in unknown if made_under_mark(k, state, max_run))
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


def made_under_mark(key: AccessKey, state: StoredState, max_run: timedelta) -> bool:
    """True if ``key`` is the one the in-flight mark's creation made: absent from the keys the
    mark recorded, and created within ``max_run`` after it. A mark that recorded no keys
    proves nothing."""
    pending, before = state.pending_since, state.keys_before
    return (
        pending is not None
        and before is not None
        and key.key_id not in before
        and pending - CLOCK_SKEW <= key.created <= pending + max_run
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

    The grace period is a wait: it ends ``grace_days`` after the successor was stored. When the
    cap is enforced, the cap (the key turning ``max_active_days`` old) is a limit that ends the
    grace period sooner, but never before the floor, a wait of ``min_grace_days`` (at most
    ``grace_days``) from the same moment. A key first seen near the cap so gets a grace period
    that ends at the cap; a key past it gets the floor.

    Attributes:
        stored: when the successor was stored (the key's creation if unknown).
        grace_end: ``stored`` plus the grace period.
        floor_end: ``stored`` plus the floor.
        cap: when the key turns ``max_active_days`` old; None when the cap is not enforced.

    A key brought back by ``restore`` while the secret kept naming its successor (keyturn never
    held its secret) counts from the restore instead of ``stored``: a fresh grace period and
    floor, the same cap.
    """

    stored: datetime
    grace_end: datetime
    floor_end: datetime
    cap: datetime | None
    restored: bool = False
    """True when ``stored`` is a restore's moment (see :func:`retirement`)."""

    def due(self, clock: RunClock, now: datetime) -> bool:
        """True if the grace period (as the cap may shorten it) is over on the run at ``now``."""
        return clock.waited(self.grace_end, now) or self.capped(clock, now)

    def capped(self, clock: RunClock, now: datetime) -> bool:
        """True if the cap says the key must go on this run and the floor has passed."""
        return (
            self.cap is not None
            and clock.last_sure_call(self.cap, now)
            and clock.waited(self.floor_end, now)
        )

    def when(self, clock: RunClock, now: datetime) -> datetime:
        """The run on which the key is deactivated if nobody still uses it."""
        full = clock.run_after_wait(self.grace_end, now)
        capped = self.capped_when(clock, now)
        return full if capped is None else min(full, capped)

    def capped_when(self, clock: RunClock, now: datetime) -> datetime | None:
        """The run on which the cap deactivates the key even in use (None: not enforced)."""
        if self.cap is None:
            return None
        return max(
            clock.run_surely_before(self.cap, now), clock.run_after_wait(self.floor_end, now)
        )

    def shortened(self, clock: RunClock, now: datetime) -> bool:
        """True if the cap ends the grace period before ``grace_days`` have passed."""
        return self.when(clock, now) < clock.run_after_wait(self.grace_end, now)

    def floor_overruns_cap(self, clock: RunClock, now: datetime) -> bool:
        """True if the floor keeps the key active after the last run before its cap."""
        if self.cap is None:
            return False
        return clock.run_after_wait(self.floor_end, now) > clock.run_surely_before(self.cap, now)


def retirement(state: StoredState, previous: AccessKey, policy: Policy) -> Retirement:
    """The previous key's grace period, floor and (when enforced) cap."""
    grace = state.grace_days if state.grace_days is not None else policy.grace_days
    stored = state.stored_at or previous.created
    restored = state.restored_time(previous.key_id)
    if restored is not None:
        grace, stored = max(grace, policy.grace_days), max(stored, restored)
    floor = min(policy.min_grace_days, grace)
    cap = previous.created + timedelta(days=policy.max_active_days)
    return Retirement(
        stored,
        stored + timedelta(days=grace),
        stored + timedelta(days=floor),
        cap if policy.enforce_max_age else None,
        restored is not None,
    )


def rotation_due(key: AccessKey, policy: Policy, switch_days: Sequence[float] = ()) -> datetime:
    """When ``key`` is due for rotation: at ``rotate_after_days``, a limit on the run clock.

    With the cap enforced, no later than ``max_active_days`` less the floor, so that a key
    rotated on time is deactivated by its cap even if its consumer never lets go; and earlier
    for a consumer that usually takes longer to switch (:mod:`keyturn.core.lead`).
    """
    return key.created + timedelta(days=rotation_age_days(policy, switch_days))


def delete_after_days(state: StoredState, policy: Policy) -> int:
    return (
        state.delete_after_days
        if state.delete_after_days is not None
        else (policy.delete_after_days)
    )


def deletion_run(
    state: StoredState, policy: Policy, deactivated: datetime, now: datetime
) -> datetime:
    """The run (``now``, ``now + run_interval``, ...) that deletes a previous key deactivated
    at ``deactivated``: the first at or after its restore window."""
    end = deactivated + timedelta(days=delete_after_days(state, policy))
    return policy.clock.run_after_wait(end, now)
