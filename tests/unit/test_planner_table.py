"""The planner's lifecycle, one row per state: what it does, to which key, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from keyturn.core import AccessKey, ActionKind, Policy, Reason, StoredState, User, plan
from keyturn.core.actions import Snapshot, apply
from tests.unit.builders import NOW, days_ago, key, stored

USER = User("app")
C, P, X = "AKIACURRENT000000000", "AKIAPREVIOUS00000000", "AKIAFOREIGN000000000"
REMIND = Policy(warn_before=timedelta(days=1))
"""The opt-in reminder a day before deactivation (``KEYTURN_WARN_BEFORE_DAYS=1``)."""

Row = tuple[
    str, list[AccessKey], StoredState | None, Policy, bool, list[tuple[ActionKind, str | None]]
]

ROWS: list[Row] = [
    # name, keys, stored state, policy, force, expected (kind, key)
    ("zero keys: create one", [], None, Policy(), False, [(ActionKind.CREATE, None)]),
    (
        "fresh delivered key: nothing",
        [key(C, 10)],
        stored(C, stored_days_ago=10),
        Policy(),
        False,
        [],
    ),
    (
        "current key due at 80 days",
        [key(C, 80)],
        stored(C, stored_days_ago=80),
        Policy(),
        False,
        [(ActionKind.CREATE, C)],
    ),
    # On the run clock the rotation age is a limit, kept by the last daily run before it: at
    # 79 days the next run (at 80) is in time; at 79.9 it would come at 80.9, too late.
    ("79 days: not yet", [key(C, 79)], stored(C, stored_days_ago=79), Policy(), False, []),
    (
        "79.9 days: the last run before 80 rotates",
        [key(C, 79.9)],
        stored(C, stored_days_ago=79.9),
        Policy(),
        False,
        [(ActionKind.CREATE, C)],
    ),
    (
        "80 days less a few seconds: rotates",
        [key(C, 80 - 5 / 86400)],
        stored(C, stored_days_ago=80),
        Policy(),
        False,
        [(ActionKind.CREATE, C)],
    ),
    (
        "forced rotation of a young key",
        [key(C, 3)],
        stored(C, stored_days_ago=3),
        Policy(),
        True,
        [(ActionKind.CREATE, C)],
    ),
    (
        # no second rotation; the 90-day previous key goes after the 1-day floor, so tomorrow
        "forced again within the cooldown: no new key, the capped previous key warned",
        [key(C, 0.01), key(P, 90)],
        stored(C, stored_days_ago=0.01, previous=P),
        REMIND,
        True,
        [(ActionKind.WARN, P)],
    ),
    (
        "undelivered key adopted when due",
        [key(X, 85)],
        None,
        Policy(),
        False,
        [(ActionKind.CREATE, X)],
    ),
    ("undelivered young key: left alone", [key(X, 5)], None, Policy(), False, []),
    (
        "grace running: nothing",
        [key(C, 3), key(P, 83)],
        stored(C, stored_days_ago=3, previous=P),
        Policy(),
        False,
        [],
    ),
    (
        "a day before deactivation, no reminder (the default): nothing",
        [key(C, 6.5), key(P, 86.5)],
        stored(C, stored_days_ago=6.5, previous=P),
        Policy(),
        False,
        [],
    ),
    (
        "a day before deactivation, the reminder on: warn once",
        [key(C, 6.5), key(P, 86.5)],
        stored(C, stored_days_ago=6.5, previous=P),
        REMIND,
        False,
        [(ActionKind.WARN, P)],
    ),
    (
        "two days before deactivation, the reminder a day before: nothing yet",
        [key(C, 5.5), key(P, 85.5)],
        stored(C, stored_days_ago=5.5, previous=P),
        REMIND,
        False,
        [],
    ),
    (
        "already warned: nothing",
        [key(C, 6.5), key(P, 86.5)],
        stored(C, stored_days_ago=6.5, previous=P, warned_key_id=P),
        REMIND,
        False,
        [],
    ),
    (
        "grace over: deactivate previous",
        [key(C, 7), key(P, 87)],
        stored(C, stored_days_ago=7, previous=P),
        Policy(),
        False,
        [(ActionKind.DEACTIVATE, P)],
    ),
    (
        "restore window running: nothing",
        [key(C, 10), key(P, 90, active=False)],
        stored(C, stored_days_ago=10, previous=P, deactivated_key_id=P, deactivated_at=days_ago(3)),
        Policy(),
        False,
        [],
    ),
    (
        "restore window over: delete previous",
        [key(C, 14), key(P, 94, active=False)],
        stored(C, stored_days_ago=14, previous=P, deactivated_key_id=P, deactivated_at=days_ago(7)),
        Policy(),
        False,
        [(ActionKind.DELETE, P)],
    ),
    (
        "previous deactivated outside keyturn: record it",
        [key(C, 2), key(P, 82, active=False)],
        stored(C, stored_days_ago=2, previous=P),
        Policy(),
        False,
        [(ActionKind.RECORD_DEACTIVATION, P)],
    ),
    (
        "grace 0 forced: create, deactivate and delete in one plan",
        [key(C, 30)],
        stored(C, stored_days_ago=30),
        Policy(grace_days=0, delete_after_days=0),
        True,
        [(ActionKind.CREATE, C), (ActionKind.DEACTIVATE, C), (ActionKind.DELETE, C)],
    ),
    (
        "two active keys, none delivered: refuse",
        [key(C, 95), key(X, 30)],
        None,
        Policy(),
        False,
        [],
    ),
    (
        "current plus active foreign key: refuse",
        [key(C, 85), key(X, 30)],
        stored(C, stored_days_ago=85),
        Policy(),
        False,
        [],
    ),
    (
        "inactive foreign key blocks: refuse without the setting",
        [key(C, 85), key(X, 200, active=False)],
        stored(C, stored_days_ago=85),
        Policy(),
        False,
        [],
    ),
    (
        "inactive foreign key: deleted to make room with the setting",
        [key(C, 85), key(X, 200, active=False)],
        stored(C, stored_days_ago=85),
        Policy(delete_foreign_keys=True),
        False,
        [(ActionKind.DELETE, X), (ActionKind.CREATE, C)],
    ),
    ("exempt: reported only", [key(C, 400)], None, Policy(exempt=True), True, []),
    (
        "current key inactive: replace it",
        [key(C, 20, active=False)],
        stored(C, stored_days_ago=20),
        Policy(),
        False,
        [(ActionKind.CREATE, C), (ActionKind.RECORD_DEACTIVATION, C)],
    ),
    (
        "only inactive keys: create an active one",
        [key(X, 20, active=False)],
        None,
        Policy(),
        False,
        [(ActionKind.CREATE, None)],
    ),
]


@pytest.mark.parametrize(
    ("keys", "state", "policy", "force", "expected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_lifecycle_table(
    keys: list[AccessKey],
    state: StoredState | None,
    policy: Policy,
    force: bool,
    expected: list[tuple[ActionKind, str | None]],
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=force)
    assert [(a.kind, a.key_id) for a in result.actions] == expected


@pytest.mark.parametrize(
    ("keys", "state", "policy", "fragment"),
    [
        ([key(C, 95), key(X, 30)], None, Policy(), "two active keys"),
        (
            [key(C, 85), key(X, 30)],
            stored(C, stored_days_ago=85),
            Policy(),
            "never deletes an active",
        ),
        (
            [key(C, 85), key(X, 200, active=False)],
            stored(C, stored_days_ago=85),
            Policy(),
            "KEYTURN_DELETE_FOREIGN_KEYS",
        ),
        (
            [key(C, 3), key(P, 83)],
            stored(C, stored_days_ago=3, previous=P),
            Policy(),
            "still active until",
        ),
        (
            [key(C, 10), key(P, 90, active=False)],
            stored(
                C, stored_days_ago=10, previous=P, deactivated_key_id=P, deactivated_at=days_ago(3)
            ),
            Policy(),
            "can still be restored until",
        ),
    ],
)
def test_forced_rotation_refusals_say_why(
    keys: list[AccessKey], state: StoredState | None, policy: Policy, fragment: str
) -> None:
    result = plan(USER, keys, state, policy, NOW, force=True)
    assert result.actions == ()
    assert result.refusal is not None
    assert fragment in result.refusal


def test_a_due_rotation_waits_for_keyturns_own_previous_key_instead_of_refusing() -> None:
    # GIVEN a short schedule where the next rotation falls inside the previous key's grace
    policy = Policy(rotate_after_days=2, grace_days=7)
    state = stored(C, stored_days_ago=3, previous=P)
    # WHEN the scheduled run plans
    result = plan(USER, [key(C, 3), key(P, 10)], state, policy, NOW)
    # THEN nothing happens, no refusal, and the reason is in the notes
    assert result.actions == ()
    assert result.refusal is None
    assert "waits" in result.notes[0]


def test_a_creation_in_flight_elsewhere_is_left_alone() -> None:
    state = stored(C, stored_days_ago=85, pending_since=NOW - timedelta(minutes=2))
    fresh_unknown = AccessKey("AKIAINFLIGHT00000000", key(C, 0).status, NOW - timedelta(minutes=1))
    result = plan(USER, [key(C, 85), fresh_unknown], state, Policy(), NOW)
    assert result.actions == ()
    assert "in progress" in result.notes[0]


def test_a_key_whose_secret_was_lost_is_removed_and_the_rotation_redone() -> None:
    # GIVEN a run that died between CreateAccessKey and storing the secret, 20 minutes ago
    state = stored(
        C, stored_days_ago=85, pending_since=NOW - timedelta(minutes=20), keys_before=frozenset({C})
    )
    lost = AccessKey("AKIALOST000000000000", key(C, 0).status, NOW - timedelta(minutes=19))
    # WHEN the next run plans
    result = plan(USER, [key(C, 85), lost], state, Policy(), NOW)
    # THEN the lost key is deactivated then deleted, the mark cleared, and the rotation redone
    assert [(a.kind, a.reason) for a in result.actions] == [
        (ActionKind.DEACTIVATE, Reason.UNDELIVERED),
        (ActionKind.DELETE, Reason.UNDELIVERED),
        (ActionKind.CLEAR_PENDING, Reason.STALE_MARK),
        (ActionKind.CREATE, Reason.ROTATION_DUE),
    ]


@pytest.mark.parametrize("keys_before", [None, frozenset({C, "AKIALOST000000000000"})])
def test_a_mark_that_does_not_prove_the_key_new_never_gets_it_deleted(
    keys_before: frozenset[str] | None,
) -> None:
    """Issue 9, T3: a mark without the record of the keys before it (an older keyturn's, or
    forged), or one that lists the key, proves nothing: the key is foreign and stays."""
    state = stored(
        C, stored_days_ago=85, pending_since=NOW - timedelta(minutes=20), keys_before=keys_before
    )
    lost = AccessKey("AKIALOST000000000000", key(C, 0).status, NOW - timedelta(minutes=19))
    result = plan(USER, [key(C, 85), lost], state, Policy(), NOW)
    assert lost.key_id not in [a.key_id for a in result.actions]


def test_a_delivery_whose_promotion_marks_were_lost_gets_them_back_with_the_clearing() -> None:
    # GIVEN a run that died after AWSCURRENT moved and before the promotion's TagResource:
    # the new key is current, the mark stale, the proof and in-grace marks never written
    pending = NOW - timedelta(minutes=20)
    state = stored(
        C, stored_days_ago=20 / 1440, previous=P, pending_since=pending, keys_before=frozenset({P})
    )
    keys = [key(P, 81), AccessKey(C, key(C, 0).status, pending + timedelta(seconds=2))]
    # WHEN the next run plans
    (clearing,) = plan(USER, keys, state, Policy(), NOW).actions
    # THEN the clearing records the proof's bound for the delivered key
    assert (clearing.kind, clearing.key_id) == (ActionKind.CLEAR_PENDING, C)
    assert clearing.due == pending + Policy().max_run
    after = apply(Snapshot(tuple(keys), state), clearing, NOW).state
    assert after.verified_time(C) == pending + Policy().max_run
    assert after.in_grace_key_id == P
    assert after.pending_since is None


@pytest.mark.parametrize(
    "marks",
    [
        {"verified_key_id": C, "verified_at": NOW - timedelta(minutes=19)},  # proof recorded
        {"keys_before": frozenset({P, C})},  # the current key existed before the mark
        {"keys_before": None},  # a mark without the record proves nothing
    ],
)
def test_a_stale_mark_is_only_cleared_when_it_did_not_lose_a_delivery(
    marks: dict[str, object],
) -> None:
    pending = NOW - timedelta(minutes=20)
    fields: dict[str, object] = {"pending_since": pending, "keys_before": frozenset({P})}
    base = stored(C, stored_days_ago=20 / 1440, previous=P)
    state = replace(base, **(fields | marks))  # type: ignore[arg-type]
    keys = [key(P, 81), AccessKey(C, key(C, 0).status, pending + timedelta(seconds=2))]
    (clearing,) = plan(USER, keys, state, Policy(), NOW).actions
    assert (clearing.kind, clearing.key_id, clearing.due) == (ActionKind.CLEAR_PENDING, None, None)


def test_a_foreign_key_created_long_after_a_stale_mark_is_not_mistaken_for_ours() -> None:
    state = stored(C, stored_days_ago=10, pending_since=days_ago(3))
    result = plan(USER, [key(C, 10), key(X, 1)], state, Policy(), NOW)
    assert (ActionKind.DELETE, X) not in [(a.kind, a.key_id) for a in result.actions]


def test_the_schedule_lists_the_next_dated_actions() -> None:
    state = stored(C, stored_days_ago=2, previous=P)
    result = plan(USER, [key(C, 2), key(P, 82)], state, Policy(), NOW)
    assert [(u.kind, u.key_id, (u.when - NOW).days) for u in result.upcoming] == [
        (ActionKind.DEACTIVATE, P, 5),
        (ActionKind.CREATE, C, 78),
    ]


def test_defaults_keep_every_active_key_under_ninety_days() -> None:
    assert Policy().longest_active_days <= 90
