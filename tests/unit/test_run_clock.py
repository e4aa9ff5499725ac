"""The run clock: waits end on the first run at or after them, limits are kept by the last run
before them, both to within the tolerance; without a schedule, exact timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from keyturn.core import Policy
from keyturn.core.deadlines import RunClock
from keyturn.errors import ConfigurationError
from tests.unit.builders import NOW

DAY, MINUTE, SECOND = timedelta(days=1), timedelta(minutes=1), timedelta(seconds=1)
DAILY = RunClock(DAY, 5 * MINUTE)
EXACT = RunClock(None)


@pytest.mark.parametrize(
    ("end", "waited"),
    [
        (NOW - DAY, True),
        (NOW, True),
        (NOW + 7 * SECOND, True),  # stamped seconds into the run a week ago: this run's
        (NOW + 5 * MINUTE, True),  # the tolerance, inclusive
        (NOW + 5 * MINUTE + SECOND, False),  # a wait never ends earlier than the tolerance
        (NOW + 12 * timedelta(hours=1), False),  # nor half a run early
    ],
)
def test_a_wait_is_over_on_the_run_within_the_tolerance_before_its_end(
    end: datetime, waited: bool
) -> None:
    assert DAILY.waited(end, NOW) is waited


@pytest.mark.parametrize(
    ("limit", "last_call"),
    [
        (NOW - DAY, True),
        (NOW, True),
        (NOW + 12 * timedelta(hours=1), True),  # the next run would be 12 hours late
        (NOW + DAY - 5 * MINUTE - SECOND, True),  # the next run: over by more than tolerance
        (NOW + DAY - 5 * MINUTE, False),  # the next run, over by the tolerance, keeps it
        (NOW + DAY - 4 * MINUTE, False),
        (NOW + DAY + 7 * SECOND, False),  # stamped seconds into a run: the next run's
        (NOW + 3 * DAY, False),
    ],
)
def test_a_limit_is_kept_by_the_last_run_before_it(limit: datetime, last_call: bool) -> None:
    assert DAILY.last_call(limit, NOW) is last_call


@pytest.mark.parametrize(
    ("end", "run"),
    [
        (NOW - DAY, NOW),
        (NOW + 7 * SECOND, NOW),
        (NOW + DAY + 7 * SECOND, NOW + DAY),
        (NOW + 7 * DAY - 3 * MINUTE, NOW + 7 * DAY),  # a run may start a little late too
        (NOW + 6 * DAY + 12 * timedelta(hours=1), NOW + 7 * DAY),
    ],
)
def test_the_run_that_ends_a_wait(end: datetime, run: datetime) -> None:
    assert DAILY.run_after_wait(end, NOW) == run
    assert DAILY.waited(end, run)
    assert not DAILY.waited(end, run - DAY) or run == NOW


@pytest.mark.parametrize(
    ("limit", "run"),
    [
        (NOW - DAY, NOW),
        (NOW + 12 * timedelta(hours=1), NOW),
        (NOW + 5 * DAY + 7 * SECOND, NOW + 5 * DAY),
        (NOW + 5 * DAY + 12 * timedelta(hours=1), NOW + 5 * DAY),
        (NOW + 5 * DAY - 3 * MINUTE, NOW + 5 * DAY),  # overrun by 3 minutes, in tolerance
        (NOW + 5 * DAY - 6 * MINUTE, NOW + 4 * DAY),
    ],
)
def test_the_run_that_keeps_a_limit(limit: datetime, run: datetime) -> None:
    assert DAILY.run_before_limit(limit, NOW) == run
    assert DAILY.last_call(limit, run)
    assert run == NOW or not DAILY.last_call(limit, run - DAY)


@pytest.mark.parametrize("interval", [None, timedelta(0)])
def test_without_a_schedule_deadlines_are_exact_timestamps(interval: timedelta | None) -> None:
    clock = RunClock(interval, 5 * MINUTE)
    assert not clock.scheduled
    assert not clock.waited(NOW + SECOND, NOW)
    assert clock.waited(NOW, NOW)
    assert not clock.last_call(NOW + SECOND, NOW)  # no next run to look ahead to
    assert clock.last_call(NOW, NOW)
    assert clock.run_after_wait(NOW + 3 * DAY, NOW) == NOW + 3 * DAY
    assert clock.run_before_limit(NOW + 3 * DAY, NOW) == NOW + 3 * DAY
    assert clock.run_after_wait(NOW - DAY, NOW) == NOW


def test_an_hourly_schedule_counts_in_hours() -> None:
    hourly = RunClock(timedelta(hours=1), MINUTE)
    assert hourly.run_after_wait(NOW + timedelta(minutes=90), NOW) == NOW + timedelta(hours=2)
    assert hourly.run_before_limit(NOW + timedelta(minutes=90), NOW) == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("interval", "tolerance", "message"),
    [
        (-DAY, MINUTE, "must not be negative"),
        (DAY, -MINUTE, "must not be negative"),
        (DAY, 12 * timedelta(hours=1), "under half the run interval"),
        (timedelta(minutes=10), 5 * MINUTE, "under half the run interval"),
    ],
)
def test_a_clock_that_cannot_place_a_deadline_is_refused(
    interval: timedelta, tolerance: timedelta, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RunClock(interval, tolerance)
    with pytest.raises(ConfigurationError, match=message):
        Policy(run_interval=interval, run_tolerance=tolerance)


def test_the_policy_defaults_are_a_daily_run_within_five_minutes_and_a_one_day_floor() -> None:
    policy = Policy()
    assert policy.clock == RunClock(DAY, 5 * MINUTE)
    assert policy.min_grace_days == 1
    assert Policy(run_interval=None).clock.scheduled is False
    with pytest.raises(ConfigurationError, match="min_grace_days"):
        Policy(min_grace_days=-1)
