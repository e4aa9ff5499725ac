"""Issue 10's properties over random schedules: deadlines land on the run they name.

Runs start at any time of day, each up to 30 s early or 60 s late, and carry their plan out
1 s to 3.5 min after they start; that keeps every run within the 5-minute tolerance of the run
that stamped a deadline (see :mod:`keyturn.core.deadlines`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import ActionKind, Policy
from tests.unit.builders import NOW
from tests.unit.runs import run_daily

# Part of `make test-slow` too, where the hypothesis profile runs 5,000 examples.
pytestmark = pytest.mark.slow

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
