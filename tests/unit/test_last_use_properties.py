"""The lazy last-use reads are safe: a plan made with only the last uses
:mod:`keyturn.core.last_use` names equals the plan made with every key's last use.

The unread keys' ``last_used`` is replaced by an arbitrary value (none, or any moment), so the
property says more than "reading none is fine": the plan does not depend on them at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import AccessKey, KeyStatus, Plan, Policy, StoredState, User, plan, usage
from keyturn.core.last_use import plan_reads, retire_reads
from keyturn.core.retire import retire_plan
from keyturn.core.roles import retirement
from tests.unit.builders import NOW

# Part of `make test-slow` too, where the hypothesis profile runs 5,000 examples.
pytestmark = pytest.mark.slow

IDS = ["AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB", "AKIACCCCCCCCCCCCCCCC"]
USER = User("lazy")
ROUNDS = 3
"""The reader's rounds at most: the new key's use, then the previous key's, then none."""

days = st.floats(min_value=0, max_value=120, allow_nan=False)
maybe_id = st.one_of(st.none(), st.sampled_from(IDS))
ago = days.map(lambda d: NOW - timedelta(days=d))
maybe_ago = st.one_of(st.none(), ago)
# around the moments the usage rules compare with: within an hour of them, either side
near = st.floats(min_value=-60, max_value=60, allow_nan=False).map(lambda m: timedelta(minutes=m))


@st.composite
def stored_states(draw: st.DrawFn) -> StoredState | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    stored = draw(maybe_ago)
    pending = draw(st.one_of(st.none(), st.none(), ago, ago.map(lambda t: max(t, NOW - _h(1)))))
    return StoredState(
        current_key_id=draw(maybe_id),
        stored_at=stored,
        previous_key_id=draw(maybe_id),
        grace_days=draw(st.one_of(st.none(), st.integers(0, 14))),
        delete_after_days=draw(st.one_of(st.none(), st.integers(0, 14))),
        pending_since=pending,
        keys_before=draw(st.one_of(st.none(), st.frozensets(st.sampled_from(IDS)))),
        deactivated_key_id=draw(maybe_id),
        deactivated_at=draw(maybe_ago),
        warned_key_id=draw(maybe_id),
        verified_key_id=draw(maybe_id),
        verified_at=draw(st.one_of(st.none(), st.just(stored), ago)) if stored else draw(maybe_ago),
        postponed_key_id=draw(maybe_id),
        postponed_at=draw(maybe_ago),
        in_grace_key_id=draw(maybe_id),
        switch_key_id=draw(maybe_id),
        switch_days=tuple(draw(st.lists(st.floats(0, 30), max_size=3))),
        restored_key_id=draw(maybe_id),
        restored_at=draw(maybe_ago),
    )


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


@st.composite
def last_uses(draw: st.DrawFn, state: StoredState | None) -> datetime | None:
    """None, any moment, or one near a moment of the state (where the rules' edges are)."""
    anchors = [NOW]
    if state is not None:
        anchors += [m for m in (state.stored_at, state.verified_at, state.deactivated_at) if m]
    kind, anchor = draw(st.integers(0, 4)), draw(st.sampled_from(anchors))
    if kind == 0:
        return None
    if kind == 1:
        return draw(ago)
    if kind == 2:  # any time since the anchor: a consumer on this key
        return anchor + (NOW - anchor) * draw(st.floats(0, 1))
    return min(anchor + draw(near), NOW)


@st.composite
def lifecycles(
    draw: st.DrawFn, phases: tuple[str, ...] = ("grace", "grace", "grace", "inactive", "gone")
) -> tuple[list[AccessKey], StoredState | None]:
    """A user in keyturn's lifecycle: a current key stored some days ago and verified, its
    previous key active (grace), inactive (restore window) or gone, with marks and last uses
    near the moments the rules compare."""
    previous, current = draw(st.permutations(IDS[:2]))
    stored = NOW - timedelta(days=draw(st.floats(0, 16)))
    verified = stored + draw(near.map(abs))
    deactivated = stored + timedelta(days=draw(st.floats(0, 14)))
    phase = draw(st.sampled_from(phases))
    marks: dict[str, object] = {
        "warned_key_id": draw(st.sampled_from([None, previous])),
        "postponed_key_id": draw(st.sampled_from([None, previous])),
        "postponed_at": draw(st.one_of(st.none(), st.just(NOW - _h(draw(st.floats(0, 48)))))),
        "switch_key_id": draw(st.sampled_from([None, None, current, previous])),
        "switch_days": tuple(draw(st.lists(st.floats(0, 30), max_size=3))),
        "restored_key_id": draw(st.sampled_from([None, None, None, previous])),
        "restored_at": min(deactivated, NOW),
        "in_grace_key_id": previous if phase == "grace" else None,
    }
    if phase != "grace" and draw(st.integers(0, 4)):
        marks |= {"deactivated_key_id": previous, "deactivated_at": min(deactivated, NOW)}
    state = StoredState(
        current_key_id=current,
        stored_at=stored,
        previous_key_id=draw(st.sampled_from([previous] * 5 + [None])),
        grace_days=draw(st.sampled_from([None, 0, 1, 7, 14])),
        delete_after_days=draw(st.sampled_from([None, 0, 7])),
        verified_key_id=draw(st.sampled_from([current] * 5 + [None])),
        verified_at=verified,
        **marks,  # type: ignore[arg-type]
    )
    created = stored - timedelta(days=draw(st.floats(30, 100)))
    status = draw(st.sampled_from([KeyStatus.ACTIVE] * 5 + [KeyStatus.INACTIVE]))
    keys = [AccessKey(current, status, stored - _h(0.1), draw(last_uses(state)))]
    if phase != "gone":
        status = KeyStatus.ACTIVE if phase == "grace" else KeyStatus.INACTIVE
        keys.insert(0, AccessKey(previous, status, created, draw(last_uses(state))))
    return keys, state


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[AccessKey], StoredState | None]:
    if draw(st.integers(0, 9)) < 7:
        return draw(lifecycles())
    state = draw(stored_states())
    ids = draw(st.lists(st.sampled_from(IDS), max_size=2, unique=True))
    keys = []
    for key_id in ids:
        created = draw(st.one_of(ago, st.floats(80, 100).map(lambda d: NOW - timedelta(days=d))))
        if state is not None and state.pending_since is not None and draw(st.booleans()):
            created = state.pending_since + draw(near)  # perhaps an undelivered key
        status = draw(st.sampled_from(KeyStatus))
        keys.append(AccessKey(key_id, status, created, draw(last_uses(state))))
    return keys, state


policies = st.builds(
    Policy,
    rotate_after_days=st.integers(1, 100),
    grace_days=st.sampled_from([0, 1, 7, 14]),  # 0: the original recipe's immediate mode
    delete_after_days=st.integers(0, 14),
    exempt=st.sampled_from([False] * 9 + [True]),
    delete_foreign_keys=st.booleans(),
    max_active_days=st.sampled_from([30, 90, 365]),
    enforce_max_age=st.booleans(),
    early_retire=st.booleans(),
    min_grace_days=st.integers(0, 3),
    run_interval=st.sampled_from([timedelta(days=1), timedelta(hours=1), None]),
    lead_time=st.booleans(),
    renotify_after=st.sampled_from([timedelta(hours=20), timedelta(0)]),
    warn_before=st.sampled_from([timedelta(0), timedelta(days=1)]),
)
fillers = st.one_of(st.none(), ago)
"""What an unread key's ``last_used`` holds in the lazy plan: anything."""


def _lazily(
    keys: list[AccessKey],
    wanted: object,
    filler: datetime | None,
) -> tuple[list[AccessKey], set[str], int]:
    """The reader's loop: the keys with only the wanted last uses read, and how many rounds."""
    assert callable(wanted)
    known: set[str] = set()
    for rounds in range(1, ROUNDS + 2):
        view = [k if k.key_id in known else replace(k, last_used=filler) for k in keys]
        more = wanted(view, frozenset(known))
        assert more <= {k.key_id for k in keys}
        if more <= known:
            return view, known, rounds
        known |= more
    raise AssertionError(f"more than {ROUNDS} rounds of reads")


@given(
    snapshot=snapshots(),
    policy=policies,
    force=st.booleans(),
    make_room=st.booleans(),
    filler=fillers,
    at=st.floats(-2, 2).map(lambda h: NOW + _h(h)),
)
def test_the_plan_with_only_the_wanted_last_uses_is_the_full_plan(
    snapshot: tuple[list[AccessKey], StoredState | None],
    policy: Policy,
    force: bool,
    make_room: bool,
    filler: datetime | None,
    at: datetime,
) -> None:
    keys, state = snapshot

    def wanted(view: list[AccessKey], known: frozenset[str]) -> frozenset[str]:
        return plan_reads(view, known, state, policy, at, force=force, make_room=make_room)

    view, _, rounds = _lazily(keys, wanted, filler)
    full: Plan = plan(USER, keys, state, policy, at, force=force, make_room=make_room)
    lazy: Plan = plan(USER, view, state, policy, at, force=force, make_room=make_room)
    assert lazy == full
    assert rounds <= ROUNDS


@given(snapshot=snapshots(), policy=policies, filler=fillers)
def test_the_retirement_pass_with_only_the_wanted_last_uses_is_the_full_pass(
    snapshot: tuple[list[AccessKey], StoredState | None], policy: Policy, filler: datetime | None
) -> None:
    keys, state = snapshot

    def wanted(view: list[AccessKey], known: frozenset[str]) -> frozenset[str]:
        return retire_reads(view, known, state, policy, NOW)

    view, _, _ = _lazily(keys, wanted, filler)
    assert retire_plan(USER, view, state, policy, NOW) == retire_plan(
        USER, keys, state, policy, NOW
    )


@given(
    snapshot=lifecycles(phases=("grace",)),
    grace=st.integers(1, 14),
    filler=fillers,
    at=st.floats(-2, 2).map(lambda h: NOW + _h(h)),
)
def test_early_retirement_reads_the_previous_key_only_after_the_new_key_shows_use(
    snapshot: tuple[list[AccessKey], StoredState | None],
    grace: int,
    filler: datetime | None,
    at: datetime,
) -> None:
    # GIVEN a previous key in its grace period, early retirement on, the cap far away
    keys, state = snapshot
    assert state is not None
    policy = Policy(grace_days=grace, max_active_days=365)
    state = replace(state, grace_days=None, restored_key_id=None)

    def wanted(view: list[AccessKey], known: frozenset[str]) -> frozenset[str]:
        return plan_reads(view, known, state, policy, at)

    # WHEN only the wanted last uses are read
    view, known, _ = _lazily(keys, wanted, filler)
    # THEN the plan is the full one, and the previous key's use was read only if needed
    assert plan(USER, view, state, policy, at) == plan(USER, keys, state, policy, at)
    previous, current = keys
    if previous.key_id in known and not retirement(state, previous, policy).due(policy.clock, at):
        assert usage.new_key_used(current, state, policy) or not current.active


@given(snapshot=lifecycles(phases=("grace", "inactive")), policy=policies, filler=fillers)
def test_a_requested_rotation_reads_what_retiring_for_room_needs(
    snapshot: tuple[list[AccessKey], StoredState | None], policy: Policy, filler: datetime | None
) -> None:
    # GIVEN Secrets Manager asks for a rotation while a previous key may still be in use
    keys, state = snapshot

    def wanted(view: list[AccessKey], known: frozenset[str]) -> frozenset[str]:
        return plan_reads(view, known, state, policy, NOW, make_room=True)

    # WHEN only the wanted last uses are read THEN the plan is the full one
    view, _, _ = _lazily(keys, wanted, filler)
    full = plan(USER, keys, state, policy, NOW, make_room=True)
    assert plan(USER, view, state, policy, NOW, make_room=True) == full
