"""The onboarding forecast: rotations a first run makes, keys past the cap, the compliance date."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from keyturn.core import Policy, StoredState, User
from keyturn.core.forecast import KeyAge, ManagedUser, forecast
from tests.unit.builders import NOW, days_ago, key, stored

DAY = timedelta(days=1)
C, P = "AKIACURRENT000000000", "AKIAPREVIOUS00000000"


def first_seen(name: str, *ages: float, policy: Policy | None = None) -> ManagedUser:
    """A user keyturn has not seen: keys made outside it, no stored state."""
    keys = [key(f"AKIA{name.upper():0<12}{n:04d}", age) for n, age in enumerate(ages)]
    return User(name), keys, None, policy or Policy()


def test_a_fleet_first_run_rotates_the_due_keys_and_is_compliant_after_the_floor() -> None:
    fleet = [
        first_seen("young", 10),
        first_seen("near", 85.25),
        first_seen("over", 200),
        first_seen("none"),
        first_seen("vip", 300, policy=Policy(exempt=True)),
    ]
    found = forecast(fleet, NOW)
    assert [(k.user_name, k.age_days) for k in found.rotations] == [("near", 85.25), ("over", 200)]
    assert found.rotation_count == 2
    assert [(k.user_name, k.age_days) for k in found.past_cap] == [("over", 200)]
    # the 200-day key gets the 1-day floor: the run tomorrow retires it, the last over the cap
    assert found.compliant_by == NOW + DAY
    assert found.no_date == ()
    assert found.exempt == ("vip",)


def test_a_fleet_already_under_the_cap_is_compliant_now() -> None:
    found = forecast([first_seen("young", 10), first_seen("near", 89.9)], NOW)
    assert found.past_cap == ()
    # 89.9 days: replaced now, and the floor keeps it to 90.9, past the cap by most of a day
    assert found.compliant_by == NOW + DAY
    assert forecast([first_seen("young", 10), first_seen("due", 85)], NOW).compliant_by == NOW


@pytest.mark.parametrize(("floor", "days"), [(0, 0), (1, 1), (3, 3), (7, 7), (30, 7)])
def test_the_compliance_date_follows_the_operators_floor(floor: int, days: int) -> None:
    found = forecast([first_seen("over", 200, policy=Policy(min_grace_days=floor))], NOW)
    assert found.compliant_by == NOW + days * DAY


def test_a_key_keyturn_already_rotated_past_the_cap_goes_on_this_run() -> None:
    # GIVEN a previous key rotated two days ago at 90 days, its consumer still using it
    previous = replace(key(P, 92), last_used=days_ago(0.1))
    state = stored(C, stored_days_ago=2, previous=P, verified_key_id=C, verified_at=days_ago(2))
    user: ManagedUser = (User("late"), [key(C, 2), previous], state, Policy())
    found = forecast([user], NOW)
    # THEN it is past the cap now, and deactivated by this very run
    assert found.past_cap == (KeyAge("late", P, 92.0, retires_at=NOW),)
    assert found.rotations == ()
    assert found.compliant_by == NOW


def test_a_previous_key_held_by_its_consumer_goes_on_the_last_run_before_its_cap() -> None:
    # GIVEN a previous key 85.5 days old, replaced five days ago: its cap falls between runs
    state = stored(C, stored_days_ago=5, previous=P, verified_key_id=C, verified_at=days_ago(5))
    user: ManagedUser = (User("held"), [key(C, 5), key(P, 85.5)], state, Policy())
    # THEN (the consumer assumed to hold on) the run at 89.5 days retires it, so it never
    # counts as over the cap; the first run after (90.5) would make the date NOW + 5 days
    assert forecast([user], NOW).compliant_by == NOW


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (
            first_seen("loose", 200, policy=Policy(enforce_max_age=False)),
            "max age not enforced",
        ),
        (first_seen("pair", 30, 40), "keyturn refuses to rotate: two active keys"),
        (
            first_seen("tight", 10, policy=Policy(max_active_days=1, rotate_after_days=1)),
            "past the 1-day cap",
        ),
    ],
)
def test_a_user_keyturn_cannot_bring_under_the_cap_has_no_date(
    user: ManagedUser, reason: str
) -> None:
    found = forecast([first_seen("young", 10), user], NOW)
    assert found.compliant_by is None
    ((no_date),) = found.no_date
    assert no_date.user_name == user[0].name
    assert reason in no_date.reason


def test_without_a_schedule_the_date_is_the_deadline_itself() -> None:
    policy = Policy(run_interval=None)
    found = forecast([first_seen("over", 200, policy=policy)], NOW)
    assert found.compliant_by == NOW + DAY


def test_the_forecast_changes_nothing_it_is_given() -> None:
    keys = [key(C, 200)]
    state = StoredState()
    forecast([(User("x"), keys, state, Policy())], NOW)
    assert keys == [key(C, 200)]
    assert state == StoredState()


def test_an_empty_fleet_is_compliant_now() -> None:
    found = forecast([], NOW)
    assert (found.compliant_by, found.rotations, found.past_cap) == (NOW, (), ())


def test_ages_are_of_the_forecasts_moment() -> None:
    user = first_seen("near", 85.25)
    later = forecast([user], NOW + 2 * DAY)
    assert later.past_cap == ()
    assert [k.age_days for k in later.rotations] == [87.25]
