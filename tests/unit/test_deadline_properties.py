"""Issue 10's properties over random schedules: deadlines land on the run they name.

Runs start at any time of day, each up to 30 s early or 60 s late, and carry their plan out
1 s to 3.5 min after they start; that keeps every run within the 5-minute tolerance of the run
that stamped a deadline (see :mod:`keyturn.core.deadlines`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import AccessKey, ActionKind, KeyStatus, Policy
from tests.unit.builders import NOW
from tests.unit.runs import DAY, History, run_daily

# Part of `make test-slow` too, where the hypothesis profile runs 5,000 examples.
pytestmark = pytest.mark.slow

OLD = "AKIAOLDOLDOLDOLDOLD1"
TOLERANCE = Policy().run_tolerance

offsets = st.integers(0, 86_399).map(lambda s: timedelta(seconds=s))
stamps = st.integers(1, 210).map(lambda s: timedelta(seconds=s))
jitters = st.lists(st.integers(-30, 60), min_size=1, max_size=7)


lifecycles = st.tuples(st.integers(1, 40), st.integers(0, 10), st.integers(0, 10))


@given(
    offset=offsets,
    stamp=stamps,
    jitter=jitters,
    days=lifecycles,
    hours=st.sampled_from([6, 8, 12, 24]),
)
def test_each_deadline_lands_on_the_run_exactly_that_many_days_on(
    offset: timedelta,
    stamp: timedelta,
    jitter: list[int],
    days: tuple[int, int, int],
    hours: int,
) -> None:
    # GIVEN a user with no key and runs every ``hours`` from any time of day, a consumer that
    # switches in time (the cap is out of the way)
    rotate, grace, delete = days
    interval = timedelta(hours=hours)
    policy = Policy(
        rotate_after_days=rotate,
        grace_days=grace,
        delete_after_days=delete,
        enforce_max_age=False,
        run_interval=interval,
    )
    first = "AKIANEW0000000000000"
    history = run_daily(
        [],
        None,
        policy,
        start=NOW + offset,
        runs=(rotate + grace + delete) * 24 // hours + 3,
        stamp=stamp,
        jitter=lambda i: timedelta(seconds=jitter[i % len(jitter)]),
        until=lambda h: h.first(ActionKind.DELETE, first) is not None,
    )
    assert history.events[0].kind is ActionKind.CREATE
    per_day = 24 // hours
    # THEN the first key is rotated on the run at rotate_after_days, deactivated on the run
    # grace_days later and deleted on the run delete_after_days after that: to the run
    runs = [history.first(kind, first) for kind in (ActionKind.CREATE, ActionKind.DEACTIVATE)]
    runs.append(history.first(ActionKind.DELETE, first))
    assert [e.run if e else None for e in runs] == [
        rotate * per_day,
        (rotate + grace) * per_day,
        (rotate + grace + delete) * per_day,
    ]


@st.composite
def capped_policies(draw: st.DrawFn) -> Policy:
    return Policy(
        rotate_after_days=draw(st.integers(1, 120)),
        grace_days=draw(st.integers(0, 20)),
        max_active_days=draw(st.integers(1, 120)),
        min_grace_days=draw(st.integers(0, 5)),
    )


@given(
    age=st.floats(0, 400, allow_nan=False),
    offset=offsets,
    stamp=stamps,
    policy=capped_policies(),
    in_use=st.booleans(),
)
def test_with_the_cap_no_key_outlives_it_unless_the_floor_does_and_the_plan_says_so(
    age: float, offset: timedelta, stamp: timedelta, policy: Policy, in_use: bool
) -> None:
    # GIVEN a key keyturn first sees at any age, daily runs at any time of day, and a consumer
    # that holds on to it (or not)
    start = NOW + offset
    old = AccessKey(OLD, KeyStatus.ACTIVE, start - timedelta(days=age))
    history = run_daily(
        [old],
        None,
        policy,
        start=start,
        runs=max(policy.rotation_days + policy.grace_days, policy.max_active_days) + 3,
        stamp=stamp,
        in_use=lambda key_id: in_use and key_id == OLD,
        until=lambda h: h.first(ActionKind.DEACTIVATE, OLD) is not None,
    )
    rotated = history.first(ActionKind.CREATE, OLD)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert rotated is not None
    assert deactivated is not None
    cap = old.created + timedelta(days=policy.max_active_days)
    floor_run = rotated.run + min(policy.min_grace_days, policy.grace_days)
    # THEN it is never deactivated before the floor has passed (its consumer had that long)
    assert deactivated.run >= floor_run or deactivated.run == rotated.run == floor_run
    decided = history.starts[deactivated.run]
    if decided > cap + TOLERANCE:
        # AND only the floor keeps it past the cap, on the floor's run, and every plan said so
        assert deactivated.run == floor_run
        date = decided.isoformat(timespec="seconds")
        for found in history.plans[rotated.run : deactivated.run]:
            assert any("grace floor" in n and date in n for n in found.notes), found.notes
    if not in_use:
        # AND a key nobody uses goes when its grace period ends, or at the cap if sooner
        grace_run = rotated.run + policy.grace_days
        assert deactivated.run <= grace_run


@given(
    age=st.floats(0, 400, allow_nan=False),
    offset=offsets,
    stamp=stamps,
    policy=capped_policies(),
)
def test_a_key_in_use_keeps_its_whole_grace_unless_the_cap_ends_it(
    age: float, offset: timedelta, stamp: timedelta, policy: Policy
) -> None:
    start = NOW + offset
    old = AccessKey(OLD, KeyStatus.ACTIVE, start - timedelta(days=age))
    history = run_daily(
        [old],
        None,
        policy,
        start=start,
        runs=max(policy.rotation_days + policy.grace_days, policy.max_active_days) + 3,
        stamp=stamp,
        in_use=lambda key_id: key_id == OLD,
        until=lambda h: h.first(ActionKind.DEACTIVATE, OLD) is not None,
    )
    rotated = history.first(ActionKind.CREATE, OLD)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert rotated is not None
    assert deactivated is not None
    decided = history.starts[deactivated.run]
    cap = old.created + timedelta(days=policy.max_active_days)
    if deactivated.run == rotated.run:
        # no use can be seen after a successor stored in the same run: no grace, no floor
        assert min(policy.grace_days, policy.min_grace_days) == 0
    elif deactivated.run < rotated.run + policy.grace_days:
        # the cap cut the grace short: the next run, up to the tolerance late, could be past it
        assert decided + DAY + TOLERANCE > cap
    else:
        assert deactivated.run == max(
            rotated.run + policy.grace_days, _cap_run(history, cap, rotated.run)
        )


def _cap_run(history: History, cap: datetime, after: int) -> int:
    """The last run surely before the cap (the first whose next run, up to the tolerance late,
    could be past it): the cap is a hard limit."""
    for index, start in enumerate(history.starts):
        if index >= after and start + DAY + TOLERANCE > cap:
            return index
    return len(history.starts)
