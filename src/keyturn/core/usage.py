"""Usage-aware retirement: what IAM's ``last_used`` says about who still holds which key.

IAM records a key's last use coarsely (``Policy.usage_granularity``, about 15 minutes), so every
comparison allows that much: a use recorded within the granularity after an event may have
happened before it.

* The consumer **moved on** from the previous key when the new key was used after keyturn's own
  verification calls (which count as use) and that use is more recent than the previous key's
  last use (by more than the granularity): the previous key was left behind.
* The previous key is **in use** if it was used after its successor was stored and has not
  been left behind. (Counting any use after the rotation as "in use" would keep a consumer that
  switched a day later on two active keys until the cap.)
* The consumer **switched** if the new key was used after verification and the previous key is
  not in use.
* The **cap** is the moment the previous key turns ``max_active_days`` old, a limit on the run
  clock (:mod:`keyturn.core.deadlines`): when enforced, the last run before it deactivates the
  key even in use, once the floor (``min_grace_days`` after its successor was stored) passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from keyturn.core.actions import Action, ActionKind, Reason
from keyturn.core.models import AccessKey, StoredState
from keyturn.core.policy import Policy
from keyturn.core.roles import retirement


def in_use(
    previous: AccessKey, state: StoredState, policy: Policy, current: AccessKey | None = None
) -> bool:
    """True if ``previous`` was used after its successor was stored and not left behind since."""
    if previous.last_used is None or state.stored_at is None:
        return False
    if previous.last_used <= state.stored_at + policy.usage_granularity:
        return False
    return current is None or not _left_behind(previous, current, state, policy)


def consumer_switched(
    previous: AccessKey, current: AccessKey, state: StoredState, policy: Policy
) -> bool:
    """True if the new key is demonstrably in use and the previous one is not."""
    return new_key_used(current, state, policy) and not in_use(previous, state, policy, current)


def new_key_used(current: AccessKey, state: StoredState, policy: Policy) -> bool:
    """True if the new key was used after keyturn's own verification calls."""
    verified = state.verified_time(current.key_id)
    if verified is None or current.last_used is None:
        return False
    return current.last_used > verified + policy.usage_granularity


def _left_behind(
    previous: AccessKey, current: AccessKey, state: StoredState, policy: Policy
) -> bool:
    new_use = current.last_used
    if previous.last_used is None or new_use is None:
        return False
    if not new_key_used(current, state, policy):
        return False
    return previous.last_used + policy.usage_granularity < new_use


def measured_switch(
    previous: AccessKey | None, current: AccessKey, state: StoredState, policy: Policy
) -> float | None:
    """The consumer's switch delay in days, once it demonstrably switched and not yet recorded
    for ``current``: from storing the new key to its last use as seen now (an upper bound on
    the first use; within an hour of it with the hourly retirement pass). keyturn's own proof
    calls do not count (see :func:`consumer_switched`). After ``previous`` was deactivated,
    only a use of the new key after the deactivation counts (a consumer cut off, then
    switching), also once it was deleted (a consumer cut off for longer than the restore
    window); a consumer using both keys has not switched."""
    if state.stored_at is None or state.switch_key_id == current.key_id:
        return None
    if not new_key_used(current, state, policy) or current.last_used is None:
        return None
    if previous is not None and previous.active:
        if in_use(previous, state, policy, current):
            return None
    else:
        if state.previous_key_id is None:
            return None
        deactivated = state.deactivated_time(state.previous_key_id)
        if deactivated is None or current.last_used <= deactivated:
            return None
    return round((current.last_used - state.stored_at) / timedelta(days=1), 2)


def record_switch(
    previous: AccessKey | None, current: AccessKey, state: StoredState, policy: Policy
) -> Action | None:
    """Record a switch seen after the previous key was deactivated (``keyturn:switch-days``);
    a switch seen while it is active is recorded by its deactivation."""
    if previous is not None and previous.active:
        return None
    days = measured_switch(previous, current, state, policy)
    if days is None:
        return None
    detail = f"the consumer switched {days:.2f} days after the new key was stored"
    return Action(
        ActionKind.RECORD_SWITCH,
        Reason.CONSUMER_SWITCHED,
        current.key_id,
        detail,
        switch_days=days,
    )


def cap(previous: AccessKey, policy: Policy) -> datetime:
    """When the previous key turns ``max_active_days`` old."""
    return previous.created + timedelta(days=policy.max_active_days)


def past_cap(previous: AccessKey, policy: Policy, now: datetime) -> bool:
    """True if the cap is enforced and this is the last run before it (or later)."""
    return policy.enforce_max_age and policy.clock.last_sure_call(cap(previous, policy), now)


def capped(previous: AccessKey, state: StoredState, policy: Policy, now: datetime) -> bool:
    """True if the cap deactivates ``previous`` on this run: past it, and past the floor."""
    return retirement(state, previous, policy).capped(policy.clock, now)


def retirable(
    previous: AccessKey,
    state: StoredState,
    policy: Policy,
    now: datetime,
    current: AccessKey | None = None,
) -> bool:
    """True if removing ``previous`` cannot cut off a consumer (or the cap says it must go)."""
    return (
        not previous.active
        or not in_use(previous, state, policy, current)
        or capped(previous, state, policy, now)
    )


def two_keys_days(state: StoredState, now: datetime) -> float | None:
    """Days both keys were active: from storing the successor to retiring the previous key."""
    if state.stored_at is None:
        return None
    return round((now - state.stored_at).total_seconds() / 86400, 2)


def retire_at_grace_end(
    previous: AccessKey, current: AccessKey, state: StoredState, policy: Policy, now: datetime
) -> Action | None:
    """The grace period is over: deactivate, unless the key is still in use (then postpone,
    telling the owner at most once per ``renotify_after``, up to the cap)."""
    if not in_use(previous, state, policy, current):
        switched = measured_switch(previous, current, state, policy)
        return Action(
            ActionKind.DEACTIVATE, Reason.GRACE_ELAPSED, previous.key_id, switch_days=switched
        )
    dates = retirement(state, previous, policy)
    used = _iso(previous.last_used)
    if dates.capped(policy.clock, now):
        detail = f"still in use ({used}) but {policy.max_active_days} days old"
        return Action(ActionKind.DEACTIVATE, Reason.MAX_AGE_ENFORCED, previous.key_id, detail)
    told = state.postponed_time(previous.key_id)
    if told is not None and now - told < policy.renotify_after:
        return None
    due = dates.capped_when(policy.clock, now)
    until = f"until {_iso(due)}" if due is not None else "with no limit"
    detail = f"last used {used}, after its successor was stored; postponed {until}"
    return Action(ActionKind.POSTPONE, Reason.PREVIOUS_IN_USE, previous.key_id, detail, due=due)


def early_retirement(
    previous: AccessKey, current: AccessKey, state: StoredState, policy: Policy
) -> Action | None:
    """Deactivate the previous key before its grace period ends once the consumer switched."""
    if not policy.early_retire or not consumer_switched(previous, current, state, policy):
        return None
    detail = "the new key is in use and the previous one is not"
    switched = measured_switch(previous, current, state, policy)
    return Action(
        ActionKind.DEACTIVATE,
        Reason.CONSUMER_SWITCHED,
        previous.key_id,
        detail,
        switch_days=switched,
    )


def retire_for_room(
    previous: AccessKey | None,
    state: StoredState,
    policy: Policy,
    now: datetime,
    current: AccessKey | None = None,
) -> Action | None:
    """Free the previous key's slot for a Secrets Manager rotation, if no consumer needs it."""
    if previous is None or previous.key_id == state.current_key_id:
        return None
    if not retirable(previous, state, policy, now, current):
        return None
    kind = ActionKind.DEACTIVATE if previous.active else ActionKind.DELETE
    detail = "Secrets Manager rotation needs the slot; the key is not in use"
    return Action(kind, Reason.MAKE_ROOM, previous.key_id, detail)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never"
