"""Which keys' last use a plan can consult: ``GetAccessKeyLastUsed`` only where it decides.

Reading a key's last use costs one IAM call per key and run. The planner reads it in a few
places only (:mod:`keyturn.core.usage`):

* at the end of a grace period (or its cap): whether the previous key is still in use, and
  the consumer's switch delay (both keys);
* inside a grace period, for early retirement: first whether the new key was used after
  keyturn's verification; only if it was, whether the previous key is still in use;
* once the previous key is inactive (or deleted), whether the consumer switched after the
  deactivation, until that switch is recorded (the current key only);
* a rotation Secrets Manager asked for, which may retire the previous key if nobody uses it
  (both keys).

Everything else (rotation ages, restore windows, undelivered keys, warnings) reads key
metadata and stored state only, and an inactive key's last use is never read: it cannot
change while the key is inactive, and no rule asks for it.

The functions here follow the planner's own steps (:func:`keyturn.core.planner.next_step` and
:func:`keyturn.core.actions.apply`) and stop at the first step that would consult a last use
not yet read. The reader reads what they name and asks again with more known, until nothing
more is wanted (at most three rounds). ``tests/unit/test_last_use_properties.py`` proves the
plan made so equals the plan made with every key's last use read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

from keyturn.core import usage
from keyturn.core.actions import Action, ActionKind, Snapshot, apply
from keyturn.core.models import AccessKey, StoredState
from keyturn.core.planner import MAX_STEPS, future_mark, next_step, rotated_just_now
from keyturn.core.policy import Policy
from keyturn.core.roles import KeyRoles, classify, delete_after_days, retirement

LastUseWanted = Callable[[tuple[AccessKey, ...], frozenset[str]], frozenset[str]]
"""``(keys, known) -> ids``: given ``keys`` whose ``last_used`` is true for the ids in
``known`` (unread for the others), the ids of the keys whose last use a decision may read."""


def every_key(keys: tuple[AccessKey, ...], known: frozenset[str]) -> frozenset[str]:
    """Every key's last use (scans and reports show it)."""
    del known
    return frozenset(k.key_id for k in keys)


def no_key(keys: tuple[AccessKey, ...], known: frozenset[str]) -> frozenset[str]:
    """No last use at all (the keys shown after a run's changes)."""
    del keys, known
    return frozenset()


def settle(
    keys: Iterable[AccessKey],
    wanted: LastUseWanted,
    read: Callable[[AccessKey], AccessKey | None],
) -> list[AccessKey]:
    """``keys`` (their ``last_used`` unread) with the last uses ``wanted`` names read by
    ``read`` (None: the key is gone), in rounds until it names nothing new."""
    found, known = list(keys), set[str]()
    while True:
        ids = {k.key_id for k in found}
        more = (wanted(tuple(found), frozenset(known)) & ids) - known
        if not more:
            return found
        found = [k for k in (read(k) if k.key_id in more else k for k in found) if k is not None]
        known |= more


def for_plan(
    state: StoredState | None,
    policy: Policy,
    now: datetime,
    *,
    force: bool = False,
    make_room: bool = False,
) -> LastUseWanted:
    """What :func:`keyturn.core.planner.plan` with these arguments may read."""

    def wanted(keys: tuple[AccessKey, ...], known: frozenset[str]) -> frozenset[str]:
        return plan_reads(keys, known, state, policy, now, force=force, make_room=make_room)

    return wanted


def for_retire(state: StoredState | None, policy: Policy, now: datetime) -> LastUseWanted:
    """What :func:`keyturn.core.retire.retire_plan` with these arguments may read."""

    def wanted(keys: tuple[AccessKey, ...], known: frozenset[str]) -> frozenset[str]:
        return retire_reads(keys, known, state, policy, now)

    return wanted


def plan_reads(  # noqa: PLR0913 - the planner's arguments, and what is known
    keys: Iterable[AccessKey],
    known: Collection[str],
    state: StoredState | None,
    policy: Policy,
    now: datetime,
    *,
    force: bool = False,
    make_room: bool = False,
) -> frozenset[str]:
    """The ids among ``keys`` whose last use the plan may read, given the ``known`` ones."""
    snapshot = Snapshot(tuple(keys), state or StoredState())
    ids = frozenset(k.key_id for k in snapshot.keys)
    if policy.exempt or future_mark(snapshot.state, now) is not None:
        return frozenset()
    if make_room and rotated_just_now(snapshot, policy, now):
        # the plan is the regular one, perhaps with a refusal added: it decides alone
        return plan_reads(snapshot.keys, known, state, policy, now)
    # a key the plan creates is not among ``ids``: its last use is known (none)
    unread = ids - frozenset(known)
    force, wanted = force or make_room, set[str]()
    for _ in range(MAX_STEPS):
        step = _step_reads(snapshot, policy, now, unread, make_room=make_room) & ids
        wanted |= step
        if step & unread:
            break  # this step decides on a last use not read yet: read it first
        decision = next_step(snapshot, policy, now, force=force, make_room=make_room)
        if not isinstance(decision, Action):
            break
        snapshot = apply(snapshot, decision, now)
        if decision.kind is ActionKind.CREATE:
            make_room = False
    return frozenset(wanted)


def retire_reads(
    keys: Iterable[AccessKey],
    known: Collection[str],
    state: StoredState | None,
    policy: Policy,
    now: datetime,
) -> frozenset[str]:
    """The ids whose last use the hourly pass's early retirement may read."""
    snapshot = Snapshot(tuple(keys), state or StoredState())
    state = snapshot.state
    if policy.exempt or future_mark(state, now) is not None or state.pending_since is not None:
        return frozenset()
    roles = classify(snapshot, policy.max_run)
    previous, current = roles.previous, roles.current
    if previous is None or current is None or not previous.active or not current.active:
        return frozenset()
    unread = frozenset(k.key_id for k in snapshot.keys) - frozenset(known)
    return _early_reads(previous, current, state, policy, unread)


def _step_reads(
    snapshot: Snapshot, policy: Policy, now: datetime, unread: frozenset[str], *, make_room: bool
) -> frozenset[str]:
    """What :func:`keyturn.core.planner.next_step` may read for this snapshot."""
    state, roles = snapshot.state, classify(snapshot, policy.max_run)
    if state.pending_since is not None or roles.undelivered:
        return frozenset()  # a wait, an undelivered key, a stale mark: metadata only
    return _previous_reads(roles, state, policy, now, unread) | _room_reads(roles, make_room)


def _previous_reads(
    roles: KeyRoles, state: StoredState, policy: Policy, now: datetime, unread: frozenset[str]
) -> frozenset[str]:
    previous, current = roles.previous, roles.current
    if current is None or not current.active:
        return frozenset()
    if previous is not None and previous.active:
        return _grace_reads(previous, current, state, policy, now, unread)
    if previous is not None:
        deactivated = state.deactivated_time(previous.key_id)
        if deactivated is None:
            return frozenset()  # the deactivation is recorded first
        end = deactivated + timedelta(days=delete_after_days(state, policy))
        if policy.clock.waited(end, now):
            return frozenset()  # deleted first
    return frozenset({current.key_id}) if _switch_measurable(current, state) else frozenset()


def _grace_reads(
    previous: AccessKey,
    current: AccessKey,
    state: StoredState,
    policy: Policy,
    now: datetime,
    unread: frozenset[str],
) -> frozenset[str]:
    """At the grace period's end both keys; inside it, what early retirement reads (none
    for a restored key, which gets its fresh grace period in full)."""
    dates = retirement(state, previous, policy)
    if dates.due(policy.clock, now):
        return frozenset({previous.key_id, current.key_id})
    if dates.restored:
        return frozenset()
    return _early_reads(previous, current, state, policy, unread)


def _early_reads(
    previous: AccessKey,
    current: AccessKey,
    state: StoredState,
    policy: Policy,
    unread: frozenset[str],
) -> frozenset[str]:
    """Early retirement reads the new key's use first, the previous key's only after it."""
    if not policy.early_retire or state.verified_time(current.key_id) is None:
        return frozenset()
    if current.key_id in unread or not usage.new_key_used(current, state, policy):
        return frozenset({current.key_id})
    return frozenset({current.key_id, previous.key_id})


def _switch_measurable(current: AccessKey, state: StoredState) -> bool:
    """True if a switch after the previous key's deactivation may still be recorded
    (:func:`keyturn.core.usage.measured_switch` without a previous active key)."""
    return (
        state.stored_at is not None
        and state.switch_key_id != current.key_id
        and state.verified_time(current.key_id) is not None
        and state.previous_key_id is not None
        and state.deactivated_time(state.previous_key_id) is not None
    )


def _room_reads(roles: KeyRoles, make_room: bool) -> frozenset[str]:
    """A rotation Secrets Manager asked for may retire an active previous key nobody uses."""
    previous, current = roles.previous, roles.current
    if not make_room or current is None or previous is None or not previous.active:
        return frozenset()
    return frozenset({previous.key_id, current.key_id})
