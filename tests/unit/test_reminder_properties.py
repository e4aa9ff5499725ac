"""The "deactivation coming" reminder: opt-in, for an active previous key, at most
``warn_before`` ahead of its deactivation, and once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import AccessKey, ActionKind, Policy, StoredState, plan
from keyturn.core.actions import Snapshot, apply
from tests.unit.builders import NOW
from tests.unit.test_last_use_properties import USER, lifecycles, policies

reminders = st.sampled_from([timedelta(0), timedelta(days=1), timedelta(days=3)])
moments = st.floats(-48, 48).map(lambda h: NOW + timedelta(hours=h))


@given(snapshot=lifecycles(phases=("grace",)), policy=policies, reminder=reminders, at=moments)
def test_a_reminder_goes_out_only_when_set_shortly_before_and_once(
    snapshot: tuple[list[AccessKey], StoredState | None],
    policy: Policy,
    reminder: timedelta,
    at: datetime,
) -> None:
    keys, state = snapshot
    policy = replace(policy, warn_before=reminder)
    result = plan(USER, keys, state, policy, at)
    warnings = [a for a in result.actions if a.kind is ActionKind.WARN]
    if not warnings:
        return
    assert reminder > timedelta(0)
    assert len(warnings) == 1
    # the snapshot the warning is planned on (after whatever the plan does before it)
    seen = Snapshot(tuple(keys), state or StoredState())
    for step, action in enumerate(result.actions):
        if action.kind is ActionKind.WARN:
            break
        seen = apply(seen, action, at, f"AKIANEW{step:013d}")
    warned = seen.key(action.key_id)
    assert warned is not None
    assert warned.active
    assert action.key_id != seen.state.current_key_id
    assert action.due is not None
    assert action.due - at <= reminder + policy.run_tolerance
    applied = apply(seen, action, at)
    again = plan(USER, applied.keys, applied.state, policy, at)
    assert ActionKind.WARN not in {a.kind for a in again.actions}
