"""Properties of the planner over random key sets, stored states, policies and times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import (
    AccessKey,
    ActionKind,
    KeyStatus,
    Plan,
    Policy,
    Snapshot,
    StoredState,
    User,
    apply,
    classify,
    plan,
)
from tests.unit.builders import NOW

# Part of `make test-slow` too, where the hypothesis profile runs 5,000 examples.
pytestmark = pytest.mark.slow

IDS = ["AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB", "AKIACCCCCCCCCCCCCCCC"]
USER = User("prop")

ages = st.floats(min_value=0, max_value=400, allow_nan=False)
maybe_id = st.one_of(st.none(), st.sampled_from(IDS))


@st.composite
def key_sets(draw: st.DrawFn) -> list[AccessKey]:
    ids = draw(st.lists(st.sampled_from(IDS), max_size=2, unique=True))
    return [
        AccessKey(
            key_id,
            draw(st.sampled_from(KeyStatus)),
            NOW - timedelta(days=draw(ages)),
            None,
        )
        for key_id in ids
    ]


@st.composite
def stored_states(draw: st.DrawFn) -> StoredState | None:
    if draw(st.booleans()):
        return None
    current = draw(maybe_id)
    recent = st.one_of(
        st.none(), st.floats(min_value=0, max_value=2).map(lambda h: NOW - timedelta(hours=h))
    )
    return StoredState(
        current_key_id=current,
        stored_at=NOW - timedelta(days=draw(ages)) if current else None,
        previous_key_id=draw(maybe_id),
        grace_days=draw(st.one_of(st.none(), st.integers(0, 30))),
        delete_after_days=draw(st.one_of(st.none(), st.integers(0, 30))),
        pending_since=draw(recent),
        deactivated_key_id=draw(maybe_id),
        deactivated_at=NOW - timedelta(days=draw(ages)),
        warned_key_id=draw(maybe_id),
    )


policies = st.builds(
    Policy,
    rotate_after_days=st.integers(1, 120),
    grace_days=st.integers(0, 30),
    delete_after_days=st.integers(0, 30),
    exempt=st.booleans(),
    delete_foreign_keys=st.booleans(),
    warn_before=st.sampled_from([timedelta(0), timedelta(days=1), timedelta(days=3)]),
)


def walk(
    keys: list[AccessKey], state: StoredState | None, result: Plan, policy: Policy
) -> list[tuple[Snapshot, ActionKind, str | None]]:
    """Each action with the snapshot it is applied to."""
    snapshot = Snapshot(tuple(keys), state or StoredState())
    seen = []
    for index, action in enumerate(result.actions):
        seen.append((snapshot, action.kind, action.key_id))
        snapshot = apply(snapshot, action, NOW, f"AKIANEW{index:013d}")
    seen.append((snapshot, ActionKind.CLEAR_PENDING, None))
    return seen


common = given(keys=key_sets(), state=stored_states(), policy=policies, force=st.booleans())


@common
def test_never_deletes_an_active_key(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    for snapshot, kind, key_id in walk(keys, state, result, policy):
        if kind is ActionKind.DELETE:
            target = snapshot.key(key_id)
            assert target is not None
            assert not target.active


@common
def test_never_more_than_two_keys(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    for snapshot, _, _ in walk(keys, state, result, policy):
        assert len(snapshot.keys) <= 2


@common
def test_never_retires_the_stored_current_key(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    for snapshot, kind, key_id in walk(keys, state, result, policy):
        if kind in {ActionKind.DEACTIVATE, ActionKind.DELETE}:
            assert key_id != snapshot.state.current_key_id


@common
def test_never_deletes_a_foreign_key_without_the_setting(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    for snapshot, kind, key_id in walk(keys, state, result, policy):
        if kind is ActionKind.DELETE and not policy.delete_foreign_keys:
            foreign = {k.key_id for k in classify(snapshot, policy.max_run).foreign}
            assert key_id not in foreign


@common
def test_planning_again_after_applying_yields_nothing_new(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    final = walk(keys, state, result, policy)[-1][0]
    again = plan(USER, final.keys, final.state, policy, NOW, force=force)
    assert again.actions == ()


@common
def test_exempt_users_are_never_touched(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    exempt = Policy(exempt=True, rotate_after_days=policy.rotate_after_days)
    assert plan(USER, keys, state, exempt, NOW, force=force).actions == ()


@common
def test_a_created_key_is_the_stored_current_key_and_active(
    keys: list[AccessKey], state: StoredState, policy: Policy, force: bool
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    final = walk(keys, state, result, policy)[-1][0]
    if any(a.kind is ActionKind.CREATE for a in result.actions):
        current = final.key(final.state.current_key_id)
        assert current is not None
        assert current.active
