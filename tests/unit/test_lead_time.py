"""Consumer-aware lead time (issue 10.4): the pure rule, the recorded delays, the tag."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import (
    AccessKey,
    ActionKind,
    Policy,
    Reason,
    StoredState,
    User,
    codec,
    lead,
    plan,
    usage,
)
from keyturn.core.delivery import Marks
from keyturn.errors import ConfigurationError
from tests.unit.builders import NOW, days_ago, key, stored

USER = User("app")
OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"


@pytest.mark.parametrize(
    ("records", "age"),
    [
        ((), 80),  # nothing known: the regular schedule
        ((3.38,), 80),  # fits: 80 + 3.38 + 2 <= 90
        ((10.38,), 77),  # 90 - ceil(12.38)
        ((10.38, 11.0, 10.5), 77),  # stable: the longest recent delay
        ((30.38,), 57),  # 90 - ceil(32.38)
        ((60.0,), 30),  # never earlier than the floor (the cap then wins, as today)
        ((2.0, 20.0), 80),  # erratic: the regular schedule
        ((20.0, 2.0, 2.5, 3.0), 80),  # only the last three count: 3.0 - 2.0 is stable
    ],
)
def test_rotation_age_fits_the_usual_delay_before_the_cap(
    records: tuple[float, ...], age: int
) -> None:
    assert lead.rotation_age_days(Policy(), records) == age


@pytest.mark.parametrize(
    "policy",
    [Policy(lead_time=False), Policy(enforce_max_age=False)],
    ids=["lead time off", "cap not enforced"],
)
def test_without_lead_time_or_cap_the_schedule_is_regular(policy: Policy) -> None:
    assert lead.rotation_age_days(policy, (30.0,)) == policy.rotation_days


def test_the_floor_is_the_operators() -> None:
    assert lead.rotation_age_days(Policy(lead_floor_days=70), (30.0,)) == 70
    # a floor above rotate_after_days never delays a rotation
    assert lead.rotation_age_days(Policy(rotate_after_days=40, lead_floor_days=60), (30.0,)) == 40


@given(
    st.integers(1, 400),
    st.integers(1, 400),
    st.integers(1, 400),
    st.integers(0, 10),
    st.lists(st.floats(0, 400, allow_nan=False), max_size=5),
)
def test_lead_time_stays_between_the_floor_and_rotate_after_days(
    rotate: int, cap: int, floor: int, margin: int, records: list[float]
) -> None:
    policy = Policy(
        rotate_after_days=rotate,
        max_active_days=cap,
        lead_floor_days=floor,
        lead_margin_days=margin,
    )
    age = lead.rotation_age_days(policy, records)
    # never later than the regular schedule, never earlier than the floor (or that schedule)
    assert min(floor, policy.rotation_days) <= age <= policy.rotation_days
    usual = lead.usual_switch_days(records)
    if usual is not None and age > floor:
        # wherever the floor does not bind, the usual delay plus the margin fits before the cap
        assert age == policy.rotation_days or age + usual + margin <= cap


def test_a_due_date_comes_early_for_a_slow_consumer() -> None:
    # GIVEN a consumer that took 14.38 days to switch last time, and a current key 77 days old
    state = stored(NEW, stored_days_ago=77, switch_key_id=NEW, switch_days=(14.38,))
    keys = [key(NEW, 77)]
    # WHEN keyturn plans THEN the rotation is due now (90 - ceil(16.38) = 73 days)
    found = plan(USER, keys, state, Policy(), NOW)
    assert [a.kind for a in found.actions] == [ActionKind.CREATE]
    assert plan(USER, keys, replace(state, switch_days=()), Policy(), NOW).actions == ()


def _grace(new_used: float | None, old_used: float | None) -> tuple[list[AccessKey], StoredState]:
    keys = [
        replace(key(OLD, 84), last_used=days_ago(old_used) if old_used is not None else None),
        replace(key(NEW, 4), last_used=days_ago(new_used) if new_used is not None else None),
    ]
    state = stored(
        NEW, stored_days_ago=4, previous=OLD, verified_key_id=NEW, verified_at=days_ago(4)
    )
    return keys, state


def test_an_early_retirement_records_the_switch_delay() -> None:
    # GIVEN the consumer switched 3 days after the new key was stored, and left the old key
    keys, state = _grace(new_used=1, old_used=2)
    found = plan(USER, keys, state, Policy(), NOW)
    (deactivate,) = found.actions
    assert (deactivate.reason, deactivate.switch_days) == (Reason.CONSUMER_SWITCHED, 3.0)


def test_a_consumer_using_both_keys_has_not_switched() -> None:
    keys, state = _grace(new_used=0.5, old_used=0.5)
    assert usage.measured_switch(keys[0], keys[1], state, Policy()) is None


def test_a_switch_after_the_cap_cut_the_consumer_off_is_recorded_next_run() -> None:
    # GIVEN the old key was deactivated at its cap 2 days ago; the consumer switched since
    old = key(OLD, 92, active=False)
    new = replace(key(NEW, 12), last_used=days_ago(0.5))
    state = stored(
        NEW,
        stored_days_ago=12,
        previous=OLD,
        verified_key_id=NEW,
        verified_at=days_ago(12),
        deactivated_key_id=OLD,
        deactivated_at=days_ago(2),
    )
    found = plan(USER, [old, new], state, Policy(), NOW)
    assert [(a.kind, a.switch_days) for a in found.actions] == [(ActionKind.RECORD_SWITCH, 11.5)]
    # and once recorded, never again for this key
    again = replace(state, switch_key_id=NEW, switch_days=(11.5,))
    assert plan(USER, [old, new], again, Policy(), NOW).actions == ()


def test_switch_days_round_trip_through_the_tag() -> None:
    to_set = codec.mark_tags(Marks(switch=(NEW, (1.0, 3.5, 4.25, 10.38))))
    assert to_set == {codec.TAG_SWITCH_DAYS: f"{NEW}@3.50,4.25,10.38"}
    state = codec.state_from(None, {**to_set, codec.TAG_DEACTIVATED: f"{OLD}@{NOW.isoformat()}"})
    assert state is not None
    assert (state.switch_key_id, state.switch_days) == (NEW, (3.5, 4.25, 10.38))


@pytest.mark.parametrize(
    "raw",
    [
        "3.5",
        f"{NEW}@",
        f"{NEW}@1,2,3,4",
        f"{NEW}@-1",
        f"{NEW}@1e3",
        f"{NEW}@9999",
        "bad@1",
        f"{NEW}@٣",
    ],
)
def test_a_switch_days_tag_keyturn_did_not_write_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="switch-days"):
        codec.state_from(
            None, {codec.TAG_SWITCH_DAYS: raw, codec.TAG_PENDING_SINCE: NOW.isoformat()}
        )


def test_the_in_grace_tag_is_set_and_removed() -> None:
    assert codec.mark_tags(Marks(in_grace=OLD)) == {codec.TAG_IN_GRACE: f"grace:{OLD}"}
    assert codec.mark_tags(Marks(clear_in_grace=True)) == {codec.TAG_IN_GRACE: ""}
    with pytest.raises(ConfigurationError, match="in-grace"):
        codec.state_from(None, {codec.TAG_IN_GRACE: "x", codec.TAG_PENDING_SINCE: NOW.isoformat()})


@pytest.mark.parametrize(
    ("raw", "key_id", "listed"),
    [
        (f"grace:{OLD}", OLD, True),
        (OLD, OLD, False),  # an older keyturn's bare id: read, left to the daily run
        ("", None, False),  # emptied by the deactivation: no key in grace, never listed
        ("grace:", None, None),
        ("grace:grace:" + OLD, None, None),
        (f"Grace:{OLD}", None, None),
    ],
)
def test_the_in_grace_tag_is_parsed_strictly(
    raw: str, key_id: str | None, listed: bool | None
) -> None:
    tags = {codec.TAG_IN_GRACE: raw, codec.TAG_PENDING_SINCE: NOW.isoformat()}
    if listed is None:
        with pytest.raises(ConfigurationError, match="in-grace"):
            codec.state_from(None, tags)
        return
    state = codec.state_from(None, tags)
    assert state is not None
    assert state.in_grace_key_id == key_id
    assert codec.in_grace_listed(raw) is listed


def test_remember_keeps_the_last_three() -> None:
    assert lead.remember((1.0, 2.0, 3.0), 4.0) == (2.0, 3.0, 4.0)
