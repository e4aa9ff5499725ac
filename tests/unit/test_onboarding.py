"""Issue 10: a key keyturn first sees near or past the cap, and the cap in the normal case.

With ``enforce_max_age`` the replaced key's grace period ends at the cap (``max_active_days``),
but never sooner than ``min_grace_days`` after its successor was stored; a key already past the
cap is retired on that floor. The plan says so, with the date. Daily runs at 12:00 (``NOW``),
each carrying its plan out seven seconds after it starts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyturn.core import AccessKey, ActionKind, KeyStatus, Policy, Reason
from tests.unit.builders import NOW
from tests.unit.runs import DAY, History, run_daily

OLD = "AKIAOLDOLDOLDOLDOLD1"
GRACE, CAPPED = Reason.GRACE_ELAPSED, Reason.MAX_AGE_ENFORCED


def first_seen(age_days: float, policy: Policy, *, in_use: bool, runs: int = 100) -> History:
    """A key made outside keyturn, ``age_days`` old when keyturn first runs (no stored state)."""
    old = AccessKey(OLD, KeyStatus.ACTIVE, NOW - timedelta(days=age_days))
    return run_daily(
        [old],
        None,
        policy,
        start=NOW,
        runs=runs,
        in_use=lambda key_id: in_use and key_id == OLD,
        until=lambda h: h.first(ActionKind.DEACTIVATE, OLD) is not None,
    )


# age first seen, in use, (rotation run, deactivation run, reason, age when deactivated), note
ONBOARDING = [
    (10, False, (70, 77, GRACE, 87.0), None),
    (10, True, (70, 79, CAPPED, 89.0), None),
    (79, False, (1, 8, GRACE, 87.0), None),
    (79, True, (1, 10, CAPPED, 89.0), None),
    (85.25, False, (0, 4, GRACE, 89.25), "85.25 days old when replaced: its grace period ends"),
    (85.25, True, (0, 4, CAPPED, 89.25), "at the 90-day cap, on 2026-06-05T12:00:00"),
    (89.9, False, (0, 1, GRACE, 90.9), "the 1-day grace floor keeps it active past the 90"),
    (89.9, True, (0, 1, CAPPED, 90.9), "deactivated on 2026-06-02T12:00:00"),
    (90, True, (0, 1, CAPPED, 91.0), "90.00 days old when replaced: the 1-day grace floor"),
    (200, False, (0, 1, GRACE, 201.0), "200.00 days old when replaced: the 1-day grace floor"),
    (200, True, (0, 1, CAPPED, 201.0), "past the 90-day cap; it is deactivated on 2026-06-02"),
]


@pytest.mark.parametrize(("age", "in_use", "expected", "note"), ONBOARDING)
def test_a_key_first_seen_at_any_age_is_retired_by_the_cap_or_the_floor(
    age: float,
    in_use: bool,
    expected: tuple[int, int, Reason, float],
    note: str | None,
) -> None:
    history = first_seen(age, Policy(), in_use=in_use)
    rotated = history.first(ActionKind.CREATE, OLD)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert rotated is not None
    assert deactivated is not None
    assert deactivated.age_days is not None
    seen = (rotated.run, deactivated.run, deactivated.reason, round(deactivated.age_days, 2))
    assert seen == expected
    # the plan that rotated says when the old key goes, in its notes only if the cap decides
    rotation_plan = history.plans[rotated.run]
    notes = " ".join(rotation_plan.notes)
    if note is None:
        assert "cap" not in notes
    else:
        assert note in notes
    deactivation_run = history.starts[deactivated.run]
    upcoming = [(u.kind, u.key_id, u.when) for u in rotation_plan.upcoming]
    if not in_use:
        assert (ActionKind.DEACTIVATE, OLD, deactivation_run) in upcoming
        create = next(a for a in rotation_plan.actions if a.kind is ActionKind.CREATE)
        assert create.due == deactivation_run  # what the rotation notice can promise


@pytest.mark.parametrize(("age", "in_use"), [(85.25, True), (200, False)])
def test_every_plan_until_the_deactivation_repeats_the_date(age: float, in_use: bool) -> None:
    history = first_seen(age, Policy(), in_use=in_use)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert deactivated is not None
    date = history.starts[deactivated.run].isoformat(timespec="seconds")
    for found in history.plans[: deactivated.run]:
        assert any(date in note for note in found.notes), found.notes
    assert not any("cap" in note for note in history.plans[deactivated.run].notes)


@pytest.mark.parametrize(
    ("age", "in_use", "run"),
    [(85.25, False, 7), (85.25, True, None), (200, False, 7), (200, True, None)],
)
def test_without_the_cap_the_grace_period_always_runs_in_full(
    age: float, in_use: bool, run: int | None
) -> None:
    history = first_seen(age, Policy(enforce_max_age=False), in_use=in_use, runs=30)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert (deactivated.run if deactivated else None) == run
    assert not any("cap" in note for found in history.plans for note in found.notes)


@pytest.mark.parametrize(
    ("policy", "run"),
    [
        (Policy(min_grace_days=3), 3),
        (Policy(min_grace_days=7), 7),
        (Policy(min_grace_days=30), 7),  # the floor never lengthens the grace period
        (Policy(min_grace_days=0), 0),  # the operator's choice: gone in the same run
        (Policy(grace_days=0), 0),
        (Policy(grace_days=2, min_grace_days=2), 2),
    ],
)
def test_the_floor_is_the_operators_and_never_longer_than_the_grace(
    policy: Policy, run: int
) -> None:
    history = first_seen(200, policy, in_use=True)
    deactivated = history.first(ActionKind.DEACTIVATE, OLD)
    assert deactivated is not None
    assert deactivated.run == run


def test_a_plan_past_the_cap_with_no_floor_rotates_and_retires_at_once() -> None:
    history = first_seen(200, Policy(min_grace_days=0), in_use=True, runs=1)
    kinds = [(e.kind, e.reason) for e in history.events]
    # no use is seen after a successor stored in the same run, so it is the grace that elapsed
    assert kinds == [
        (ActionKind.CREATE, Reason.ROTATION_DUE),
        (ActionKind.DEACTIVATE, Reason.GRACE_ELAPSED),
    ]


@pytest.mark.parametrize(
    ("rotate", "in_use", "deactivation_run"),
    [
        # The cap is a hard limit: its last run is the one surely before it, so a key whose
        # cap falls on a run's slot goes on the run before (never seconds past 90 days).
        (85, False, 89),  # a grace period that would end at 92 ends before the cap instead
        (85, True, 89),
        (80, True, 89),  # postponed up to the last run surely before the cap
        (80, False, 87),
        (83, False, 89),  # grace would end at 90, on the cap's slot: the run before
    ],
)
def test_in_the_normal_case_the_deactivation_never_lands_after_the_cap(
    rotate: int, in_use: bool, deactivation_run: int
) -> None:
    # GIVEN a user with no key yet: the first run makes one, seven seconds into the run
    policy = Policy(rotate_after_days=rotate)
    history = run_daily(
        [],
        None,
        policy,
        start=NOW,
        runs=120,
        in_use=lambda _: in_use,
        until=lambda h: any(e.kind is ActionKind.DEACTIVATE for e in h.events),
    )
    first, deactivated = history.events[0], history.events[-1]
    assert first.kind is ActionKind.CREATE
    # WHEN its successor comes at ``rotate`` days and the consumer may hold on to it
    # THEN it is deactivated on the run at most 90 days after it was made, never later
    assert deactivated.kind is ActionKind.DEACTIVATE
    assert deactivated.run == deactivation_run
    assert deactivated.age_days is not None
    assert deactivated.age_days <= 90
    assert history.starts[deactivated.run] - history.starts[0] == deactivation_run * DAY
