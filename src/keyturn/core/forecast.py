"""The onboarding forecast: what a first run would do to a fleet, and when it is compliant.

``forecast(users, now)`` plans each user at ``now`` as a first run would, then follows the
plans forward, run by run on each user's run clock (without a schedule, as if keyturn ran at
each deadline), to the run from which no active key of the user is older than its cap
(``max_active_days``, to within the run tolerance) for good.

It assumes the worst case the cap exists for: every consumer keeps using its old key until
keyturn retires it. So with ``enforce_max_age`` off there is no date (a key in use is postponed
for as long as it is used), nor for a user keyturn refuses to rotate or a policy that rotates
too late for the cap; each such user is listed with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from keyturn.core.actions import ActionKind, Snapshot, apply
from keyturn.core.models import AccessKey, StoredState, User
from keyturn.core.planner import Plan, plan
from keyturn.core.policy import Policy

ManagedUser = tuple[User, Iterable[AccessKey], StoredState | None, Policy]
"""One user as the forecast reads it: its keys, stored state and (tag-resolved) policy."""

DAY = timedelta(days=1)
MAX_RUNS = 32
"""Runs followed per user; a handful reach a steady state (rotate, deactivate, delete)."""


@dataclass(frozen=True)
class KeyAge:
    """A key and its age at the forecast's moment."""

    user_name: str
    key_id: str
    age_days: float
    retires_at: datetime | None = None
    """The run on which the first run's plan deactivates it (even in use, at the cap or the
    floor); None when that plan dates no deactivation for it."""


@dataclass(frozen=True)
class NoDate:
    """A user whose keys keyturn cannot promise to bring under the cap, and why."""

    user_name: str
    reason: str


@dataclass(frozen=True)
class OnboardingForecast:
    """What a first run at ``at`` would do, and by when every managed key is compliant.

    Attributes:
        rotations: the keys a first run would replace, with their ages.
        past_cap: active keys already older than their user's cap.
        compliant_by: the run from which no active managed key is older than its cap, for
            good; ``at`` if that is already so; None if some user has no date (see
            ``no_date``).
        no_date: users without a date, with the reason.
        exempt: users that are only reported (not counted).
    """

    at: datetime
    rotations: tuple[KeyAge, ...]
    past_cap: tuple[KeyAge, ...]
    compliant_by: datetime | None
    no_date: tuple[NoDate, ...]
    exempt: tuple[str, ...]

    @property
    def rotation_count(self) -> int:
        return len(self.rotations)


@dataclass(frozen=True)
class _UserForecast:
    rotations: tuple[KeyAge, ...]
    past_cap: tuple[KeyAge, ...]
    compliant: datetime | NoDate


def forecast(users: Iterable[ManagedUser], now: datetime) -> OnboardingForecast:
    """The onboarding forecast for ``users`` at ``now`` (see the module docstring)."""
    rotations: list[KeyAge] = []
    past_cap: list[KeyAge] = []
    no_date: list[NoDate] = []
    exempt: list[str] = []
    latest = now
    for user, keys, state, policy in users:
        if policy.exempt:
            exempt.append(user.name)
            continue
        found = _user_forecast(user, Snapshot(tuple(keys), state or StoredState()), policy, now)
        rotations.extend(found.rotations)
        past_cap.extend(found.past_cap)
        if isinstance(found.compliant, NoDate):
            no_date.append(found.compliant)
        else:
            latest = max(latest, found.compliant)
    compliant_by = None if no_date else latest
    return OnboardingForecast(
        now, tuple(rotations), tuple(past_cap), compliant_by, tuple(no_date), tuple(exempt)
    )


def _user_forecast(user: User, snapshot: Snapshot, policy: Policy, now: datetime) -> _UserForecast:
    first = plan(user, snapshot.keys, snapshot.state, policy, now)
    replaced = {a.key_id for a in first.actions if a.kind is ActionKind.CREATE and a.key_id}
    return _UserForecast(
        tuple(_age(user, k, now) for k in snapshot.keys if k.key_id in replaced),
        tuple(
            replace(_age(user, k, now), retires_at=_retires_at(first, k.key_id, now))
            for k in snapshot.keys
            if _over_cap(k, policy, now, slack=timedelta(0))
        ),
        _compliant_from(user, snapshot, policy, now, first),
    )


def _compliant_from(
    user: User, snapshot: Snapshot, policy: Policy, now: datetime, first: Plan
) -> datetime | NoDate:
    """The run from which ``user``'s keys stay under the cap, or why there is none."""
    reason = _why_no_date(policy)
    if reason is not None:
        return NoDate(user.name, reason)
    since: datetime | None = None
    moment, found = now, first
    for _ in range(MAX_RUNS):
        if found.refusal is not None:
            return NoDate(user.name, f"keyturn refuses to rotate: {found.refusal}")
        if _any_over_cap(snapshot, policy, moment):
            since = None
        snapshot = _applied(snapshot, found, moment)
        if _any_over_cap(snapshot, policy, moment):
            since = None
        elif since is None:
            since = moment
        if since is not None and _settled(snapshot):
            return since
        moment = _next_run(found, moment, policy)
        snapshot = _old_key_in_use(snapshot, moment)
        found = plan(user, snapshot.keys, snapshot.state, policy, moment)
    return NoDate(user.name, f"no steady state within {MAX_RUNS} runs")


def _why_no_date(policy: Policy) -> str | None:
    if not policy.enforce_max_age:
        return "max age not enforced: a key still in use stays active past the cap"
    floor = min(policy.min_grace_days, policy.grace_days)
    if policy.rotation_days + floor > policy.max_active_days:
        return (
            f"a key rotated at {policy.rotation_days} days keeps working {floor} more, past "
            f"the {policy.max_active_days}-day cap"
        )
    return None


def _applied(snapshot: Snapshot, found: Plan, moment: datetime) -> Snapshot:
    for number, action in enumerate(found.actions):
        snapshot = apply(snapshot, action, moment, f"(forecast key {moment:%Y%m%d%H%M}-{number})")
    return snapshot


def _next_run(found: Plan, moment: datetime, policy: Policy) -> datetime:
    """The next run that acts: the earliest dated action ahead, else the next run."""
    ahead = [u.when for u in found.upcoming if u.when > moment]
    return min(ahead, default=moment + (policy.run_interval or DAY))


def _old_key_in_use(snapshot: Snapshot, moment: datetime) -> Snapshot:
    """The worst case: the consumer called AWS with the previous key just before this run."""
    previous = snapshot.state.previous_key_id
    keys = tuple(
        replace(k, last_used=moment) if k.key_id == previous and k.active else k
        for k in snapshot.keys
    )
    return Snapshot(keys, snapshot.state)


def _settled(snapshot: Snapshot) -> bool:
    """True once only the stored current key is active: every later cycle keeps the cap."""
    active = [k for k in snapshot.keys if k.active]
    return len(active) == 1 and active[0].key_id == snapshot.state.current_key_id


def _any_over_cap(snapshot: Snapshot, policy: Policy, moment: datetime) -> bool:
    slack = policy.run_tolerance if policy.clock.scheduled else timedelta(0)
    return any(_over_cap(k, policy, moment, slack=slack) for k in snapshot.keys)


def _over_cap(key: AccessKey, policy: Policy, moment: datetime, *, slack: timedelta) -> bool:
    return key.active and moment - key.created > timedelta(days=policy.max_active_days) + slack


def _retires_at(first: Plan, key_id: str, now: datetime) -> datetime | None:
    """When ``first`` deactivates ``key_id``: now, the run its replacement's CREATE names, or
    the run of a dated deactivation ahead."""
    for action in first.actions:
        if action.key_id != key_id:
            continue
        if action.kind is ActionKind.DEACTIVATE:
            return now
        if action.kind is ActionKind.CREATE and action.due is not None:
            return action.due
    return next(
        (u.when for u in first.upcoming if u.key_id == key_id and u.kind is ActionKind.DEACTIVATE),
        None,
    )


def _age(user: User, key: AccessKey, now: datetime) -> KeyAge:
    return KeyAge(user.name, key.key_id, round((now - key.created) / DAY, 2))
