"""Usage-aware retirement in the planner: tables of stories, then properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.core import (
    AccessKey,
    Action,
    ActionKind,
    KeyStatus,
    Policy,
    Reason,
    Snapshot,
    StoredState,
    User,
    apply,
    classify,
    plan,
    usage,
)
from tests.unit.builders import NOW, days_ago, key, stored

USER = User("app")
OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"
GRAIN = timedelta(minutes=15)


def _world(
    *,
    stored_days: float,
    old_age: float = 85,
    old_used: float | None = None,
    new_used: float | None = None,
    verified_days: float | None = None,
) -> tuple[list[AccessKey], StoredState]:
    """OLD replaced by NEW ``stored_days`` ago; uses given in days ago (None: never)."""
    old = replace(key(OLD, old_age), last_used=days_ago(old_used) if old_used is not None else None)
    new = replace(
        key(NEW, stored_days), last_used=days_ago(new_used) if new_used is not None else None
    )
    verified = stored_days if verified_days is None else verified_days
    state = stored(
        NEW,
        stored_days_ago=stored_days,
        previous=OLD,
        verified_key_id=NEW,
        verified_at=days_ago(verified),
    )
    return [old, new], state


def _steps(found_actions: tuple[Action, ...]) -> list[tuple[ActionKind, Reason]]:
    return [(a.kind, a.reason) for a in found_actions]


@pytest.mark.parametrize(
    ("old_used", "expected"),
    [
        (None, [(ActionKind.DEACTIVATE, Reason.GRACE_ELAPSED)]),
        (8 - 10 / 1440, [(ActionKind.DEACTIVATE, Reason.GRACE_ELAPSED)]),  # within the grain
        (1, [(ActionKind.POSTPONE, Reason.PREVIOUS_IN_USE)]),
    ],
    ids=["never-used", "used-within-granularity-of-storing", "used-yesterday"],
)
def test_at_the_end_of_grace_only_an_unused_key_is_deactivated(
    old_used: float | None, expected: list[tuple[ActionKind, Reason]]
) -> None:
    keys, state = _world(stored_days=8, old_age=85, old_used=old_used)
    assert _steps(plan(USER, keys, state, Policy(), NOW).actions) == expected


def test_a_postponement_tells_the_owner_once_a_day_until_the_cap() -> None:
    keys, state = _world(stored_days=8, old_age=85, old_used=0.1)
    first = plan(USER, keys, state, Policy(), NOW)
    (postpone,) = first.actions
    # the cap is a hard limit, kept by the last daily run surely before it: NOW is a run and
    # the key was created on the schedule, so the cap falls on a run's slot and the run a day
    # before keeps it
    cap = keys[0].created + timedelta(days=90) - timedelta(days=1)
    assert postpone.due == cap
    assert f"until {cap.isoformat(timespec='seconds')}" in postpone.detail
    told = replace(state, postponed_key_id=OLD, postponed_at=NOW - timedelta(hours=3))
    assert plan(USER, keys, told, Policy(), NOW).actions == ()
    yesterday = replace(told, postponed_at=NOW - timedelta(hours=21))
    assert _steps(plan(USER, keys, yesterday, Policy(), NOW).actions) == [
        (ActionKind.POSTPONE, Reason.PREVIOUS_IN_USE)
    ]
    # the scan shows the cap as the next date, not the past due date
    assert first.upcoming[0].when == cap


@pytest.mark.parametrize(
    ("enforce", "expected"),
    [
        (True, [(ActionKind.DEACTIVATE, Reason.MAX_AGE_ENFORCED)]),
        (False, [(ActionKind.POSTPONE, Reason.PREVIOUS_IN_USE)]),
    ],
)
def test_at_the_cap_an_in_use_key_goes_only_if_enforced(
    enforce: bool, expected: list[tuple[ActionKind, Reason]]
) -> None:
    keys, state = _world(stored_days=12, old_age=90, old_used=0.1)
    policy = Policy(enforce_max_age=enforce)
    assert _steps(plan(USER, keys, state, policy, NOW).actions) == expected


@pytest.mark.parametrize(
    ("stored_days", "expected"),
    [
        (0.5, [(ActionKind.WARN, Reason.DEACTIVATION_SOON)]),
        (1, [(ActionKind.DEACTIVATE, Reason.MAX_AGE_ENFORCED)]),
        (2, [(ActionKind.DEACTIVATE, Reason.MAX_AGE_ENFORCED)]),
    ],
)
def test_a_key_past_the_cap_when_first_rotated_keeps_only_the_floor(
    stored_days: float, expected: list[tuple[ActionKind, Reason]]
) -> None:
    # a key made outside keyturn, 120 days old when first rotated, still in use: with the cap
    # enforced it gets the 1-day floor, not the 7-day grace (issue 10: the headline holds)
    # the opt-in reminder shows, half a day in, that the deactivation comes on the next run
    keys, state = _world(stored_days=stored_days, old_age=120 + stored_days, old_used=0.1)
    policy = Policy(warn_before=timedelta(days=1))
    assert _steps(plan(USER, keys, state, policy, NOW).actions) == expected


def test_without_the_cap_a_key_past_it_keeps_the_full_grace_period() -> None:
    keys, state = _world(stored_days=2, old_age=122, old_used=0.1)
    assert plan(USER, keys, state, Policy(enforce_max_age=False), NOW).actions == ()


@pytest.mark.parametrize(
    ("old_used", "new_used", "verified_days", "early"),
    [
        (None, 0.5, 2, True),  # consumer switched, old never used since
        (2 - 10 / 1440, 0.5, 2, True),  # old used only within the grain of storing
        (1, 0.5, 2, True),  # old used after storing, then left behind for the new key
        (0.2, 0.5, 2, False),  # old used more recently than the new key: still in use
        (0.5 + 10 / 1440, 0.5, 2, False),  # within the grain of the new key's use: unsure
        (None, None, 2, False),  # new key never used
        (None, 2 - 10 / 1440, 2, False),  # only keyturn's own verification calls
    ],
)
def test_the_old_key_goes_early_once_the_consumer_switched(
    old_used: float | None, new_used: float | None, verified_days: float, early: bool
) -> None:
    keys, state = _world(
        stored_days=2, old_used=old_used, new_used=new_used, verified_days=verified_days
    )
    expected = [(ActionKind.DEACTIVATE, Reason.CONSUMER_SWITCHED)] if early else []
    assert _steps(plan(USER, keys, state, Policy(), NOW).actions) == expected
    assert plan(USER, keys, state, Policy(early_retire=False), NOW).actions == ()


def test_without_a_proof_of_the_new_key_there_is_no_early_retirement() -> None:
    keys, state = _world(stored_days=2, new_used=0.5)
    unproved = replace(state, verified_key_id=None, verified_at=None)
    assert plan(USER, keys, unproved, Policy(), NOW).actions == ()


def test_a_secrets_manager_rotation_retires_an_unused_previous_key_for_its_slot() -> None:
    # GIVEN a previous key whose grace period is over and that nobody uses
    keys, state = _world(stored_days=8, old_used=None)
    found = plan(USER, keys, state, Policy(early_retire=False), NOW, make_room=True)
    assert _steps(found.actions) == [
        (ActionKind.DEACTIVATE, Reason.GRACE_ELAPSED),
        (ActionKind.DELETE, Reason.MAKE_ROOM),
        (ActionKind.CREATE, Reason.FORCED),
    ]
    assert found.refusal is None


@pytest.mark.parametrize("old_used", [None, 0.5])
def test_a_secrets_manager_rotation_never_retires_a_key_inside_its_grace(
    old_used: float | None,
) -> None:
    """Issue 9, T6: evidence that a consumer switched cannot exist yet two days in, used or
    not; a requested rotation must not cut the promised grace short."""
    keys, state = _world(stored_days=2, old_used=old_used)
    found = plan(USER, keys, state, Policy(early_retire=False), NOW, make_room=True)
    assert found.actions == ()
    assert found.refusal is not None
    assert "inside its grace period" in found.refusal


def test_a_secrets_manager_rotation_never_takes_the_slot_of_a_key_in_use() -> None:
    keys, state = _world(stored_days=8, old_used=0.5)
    found = plan(USER, keys, state, Policy(), NOW, make_room=True)
    assert [a.kind for a in found.actions] == [ActionKind.POSTPONE]
    assert found.refusal is not None
    assert "in use" in found.refusal


def test_a_second_secrets_manager_rotation_in_a_row_is_refused() -> None:
    """Issue 9, T6: the same cooldown as an on-demand rotation, said as a refusal."""
    keys, state = [key(NEW, 0.001)], stored(NEW, stored_days_ago=0.001)
    found = plan(USER, keys, state, Policy(), NOW, make_room=True)
    assert found.actions == ()
    assert found.refusal is not None
    assert "second requested rotation in a row is refused" in found.refusal
    assert plan(USER, keys, state, Policy(), NOW, force=True).actions == ()
    later = NOW + Policy().force_cooldown
    assert [a.kind for a in plan(USER, keys, state, Policy(), later, make_room=True).actions] == [
        ActionKind.CREATE
    ]


def test_two_keys_days_counts_from_storing_the_successor() -> None:
    _, state = _world(stored_days=3.5)
    assert usage.two_keys_days(state, NOW) == 3.5


# Properties ------------------------------------------------------------------------------

IDS = [OLD, NEW, "AKIAFOREIGNFOREIGN33"]
ago = st.floats(min_value=0, max_value=200, allow_nan=False).map(lambda d: NOW - timedelta(days=d))
maybe_time = st.one_of(st.none(), ago)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[AccessKey], StoredState]:
    ids = draw(st.lists(st.sampled_from(IDS), max_size=2, unique=True))
    keys = [
        AccessKey(i, draw(st.sampled_from(KeyStatus)), draw(ago), draw(maybe_time)) for i in ids
    ]
    state = StoredState(
        current_key_id=draw(st.one_of(st.none(), st.sampled_from(IDS))),
        stored_at=draw(ago),
        previous_key_id=draw(st.one_of(st.none(), st.sampled_from(IDS))),
        grace_days=draw(st.integers(0, 20)),
        delete_after_days=draw(st.integers(0, 20)),
        deactivated_key_id=draw(st.one_of(st.none(), st.sampled_from(IDS))),
        deactivated_at=draw(maybe_time),
        verified_key_id=draw(st.one_of(st.none(), st.sampled_from(IDS))),
        verified_at=draw(maybe_time),
        postponed_key_id=draw(st.one_of(st.none(), st.sampled_from(IDS))),
        postponed_at=draw(maybe_time),
    )
    return keys, state


usage_policies = st.builds(
    Policy,
    rotate_after_days=st.integers(1, 120),
    grace_days=st.integers(0, 20),
    delete_after_days=st.integers(0, 20),
    max_active_days=st.integers(1, 120),
    enforce_max_age=st.booleans(),
    early_retire=st.booleans(),
    delete_foreign_keys=st.booleans(),
)


def _walk(
    keys: list[AccessKey], state: StoredState, actions: tuple[Action, ...]
) -> list[tuple[Snapshot, Action]]:
    snapshot, seen = Snapshot(tuple(keys), state), []
    for action in actions:
        seen.append((snapshot, action))
        snapshot = apply(snapshot, action, NOW)
    return seen


@settings(max_examples=300)
@pytest.mark.slow
@given(worlds(), usage_policies, st.booleans(), st.booleans())
def test_a_previous_key_in_use_is_never_deactivated_before_the_cap(
    world: tuple[list[AccessKey], StoredState], policy: Policy, force: bool, make_room: bool
) -> None:
    keys, state = world
    found = plan(USER, keys, state, policy, NOW, force=force, make_room=make_room)
    for snapshot, action in _walk(keys, state, found.actions):
        previous = classify(snapshot).previous
        if action.kind is not ActionKind.DEACTIVATE or previous is None:
            continue
        if action.key_id == previous.key_id and usage.in_use(previous, snapshot.state, policy):
            assert usage.past_cap(previous, policy, NOW), action


@settings(max_examples=300)
@pytest.mark.slow
@given(worlds(), usage_policies, st.booleans(), st.booleans())
def test_plans_with_usage_keep_the_core_invariants(
    world: tuple[list[AccessKey], StoredState], policy: Policy, force: bool, make_room: bool
) -> None:
    keys, state = world
    found = plan(USER, keys, state, policy, NOW, force=force, make_room=make_room)
    snapshot = Snapshot(tuple(keys), state)
    for before, action in _walk(keys, state, found.actions):
        target = before.key(action.key_id)
        if action.kind is ActionKind.DELETE:
            assert target is not None
            assert not target.active, "an active key is never deleted"
        if action.kind in {ActionKind.DEACTIVATE, ActionKind.DELETE}:
            assert (
                action.key_id != before.state.current_key_id
                or target is None
                or (classify(before).current is None)
            )
        snapshot = apply(before, action, NOW)
        assert len(snapshot.keys) <= 2
    again = plan(USER, snapshot.keys, snapshot.state, policy, NOW)
    assert again.actions == (), "re-planning after applying the plan yields nothing"


@settings(max_examples=100, deadline=None)
@pytest.mark.slow
@given(
    st.integers(80, 89),
    st.integers(0, 20),
    st.integers(60, 120),
    st.integers(0, 6),
)
def test_with_enforcement_no_previous_key_outlives_the_cap_by_more_than_a_run(
    age_at_rotation: int, grace: int, cap: int, hour: int
) -> None:
    # GIVEN a consumer that never switches (uses the old key every day), and daily runs
    policy = Policy(grace_days=grace, max_active_days=cap)
    start = NOW + timedelta(hours=hour)
    old = AccessKey(OLD, KeyStatus.ACTIVE, start - timedelta(days=age_at_rotation))
    new = AccessKey(NEW, KeyStatus.ACTIVE, start)
    state = stored(NEW, previous=OLD, grace=grace, verified_key_id=NEW, verified_at=start)
    state = replace(state, stored_at=start)
    snapshot = Snapshot((old, new), state)
    deadline = max(start + timedelta(days=grace), old.created + timedelta(days=cap))
    for day in range(1, 200):
        now = start + timedelta(days=day)
        keys = tuple(replace(k, last_used=now) if k.key_id == OLD else k for k in snapshot.keys)
        found = plan(USER, keys, snapshot.state, policy, now)
        snapshot = Snapshot(keys, snapshot.state)
        for action in found.actions:
            snapshot = apply(snapshot, action, now)
        previous = snapshot.key(OLD)
        if previous is None or not previous.active:
            # THEN it went no later than one daily run after its deadline
            assert now <= deadline + timedelta(days=1)
            return
        assert now < deadline + timedelta(days=1)
    pytest.fail("the previous key was never deactivated")
