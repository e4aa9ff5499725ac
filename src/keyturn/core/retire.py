"""The hourly retirement pass's plan: deactivate a previous key once the consumer switched.

A light pass between daily runs, over the users whose secret carries ``keyturn:in-grace``.
It applies only the early-retirement rule (:func:`keyturn.core.usage.early_retirement`, the
same evidence the daily run uses) and never anything else: no rotation, no deletion, no
postponement, no notice of a coming deactivation. Everything else waits for the daily run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from keyturn.core import usage
from keyturn.core.actions import Snapshot
from keyturn.core.models import AccessKey, StoredState, User
from keyturn.core.planner import Plan, future_mark
from keyturn.core.policy import Policy
from keyturn.core.roles import classify


def retire_plan(
    user: User,
    keys: Iterable[AccessKey],
    state: StoredState | None,
    policy: Policy,
    now: datetime,
) -> Plan:
    """At most one action: deactivate the previous key if the consumer demonstrably switched."""
    snapshot = Snapshot(tuple(keys), state or StoredState())
    if policy.exempt:
        return Plan(user.name, notes=("exempt: reported only",))
    implausible = future_mark(snapshot.state, now)
    if implausible is not None:
        return Plan(user.name, refusal=implausible)
    if snapshot.state.pending_since is not None:
        return Plan(user.name, notes=("a rotation is in flight; left to the daily run",))
    roles = classify(snapshot, policy.max_run)
    previous, current = roles.previous, roles.current
    if previous is None or current is None or not previous.active or not current.active:
        return Plan(user.name)
    early = usage.early_retirement(previous, current, snapshot.state, policy)
    return Plan(user.name, (early,) if early is not None else ())


def stale_grace_mark(keys: Iterable[AccessKey], state: StoredState | None) -> bool:
    """True if ``keyturn:in-grace`` names a key that is no longer an active previous key
    (deactivated outside keyturn, restored, deleted): the pass drops the tag."""
    if state is None or state.in_grace_key_id is None:
        return False
    named = next((k for k in keys if k.key_id == state.in_grace_key_id), None)
    return (
        named is None
        or not named.active
        or state.in_grace_key_id != state.previous_key_id
        or state.previous_key_id == state.current_key_id
    )
