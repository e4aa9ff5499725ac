"""The credential report's parser and the selection of users that need a per-user look."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import AccessKey, Policy, StoredState, plan
from keyturn.core.credential_report import (
    LookReason,
    ReportKey,
    ReportRow,
    look_reason,
    parse_report,
    select_candidates,
)
from keyturn.errors import BadRequestError
from tests.unit.builders import NOW, days_ago
from tests.unit.test_planner_properties import USER, key_sets, stored_states

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
ROOT = (
    "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,"
    "2026-05-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,"
    "N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
APP = (
    "app,arn:aws:iam::123456789012:user/team/app,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,"
    "false,true,2026-03-01T10:00:00+00:00,2026-05-30T08:00:00+00:00,us-east-1,iam,false,"
    "2025-12-01T10:00:00+00:00,no_information,N/A,N/A,false,N/A,false,N/A"
)
HUMAN = (
    "human,arn:aws:iam::123456789012:user/human,2024-01-01T00:00:00+00:00,true,"
    "no_information,2024-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,"
    "N/A,N/A,false,N/A,false,N/A"
)


def test_parses_keys_dates_and_the_values_aws_uses_for_nothing() -> None:
    report = parse_report("\n".join([HEADER, ROOT, APP, HUMAN]) + "\n")
    assert [r.user_name for r in report.rows] == ["app", "human"]
    app, human = report.rows
    assert app.path == "/team/"
    assert human.path == "/"
    assert human.keys == ()
    first, second = app.keys
    assert (first.slot, first.active) == (1, True)
    assert first.created is not None
    assert first.created.isoformat() == "2026-03-01T10:00:00+00:00"
    assert first.last_used is not None
    assert (second.slot, second.active, second.last_used) == (2, False, None)


def test_rejects_text_that_is_not_a_report() -> None:
    with pytest.raises(BadRequestError, match="not a credential report"):
        parse_report("user,arn\napp,arn:aws:iam::1:user/app\n")


def row(*keys: tuple[bool, float | None]) -> ReportRow:
    return ReportRow(
        "app",
        "arn:aws:iam::123456789012:user/app",
        None,
        tuple(
            ReportKey(n, active, days_ago(age) if age is not None else None, None)
            for n, (active, age) in enumerate(keys, start=1)
        ),
    )


@pytest.mark.parametrize(
    ("report_row", "in_flight", "expected"),
    [
        (row((True, 10)), False, None),
        # a rotation is kept by the last daily run before 80 days, so a key is looked at from
        # one run (and the 5-minute tolerance) before the horizon: issue 10
        (row((True, 78.99)), False, None),
        (row((True, 79)), False, LookReason.AGE),
        (row((True, 79.9)), False, LookReason.AGE),
        (row((True, 80)), False, LookReason.AGE),
        (row((True, 10)), True, LookReason.IN_FLIGHT),
        (row(), False, LookReason.NO_KEY),
        (row((True, 10), (True, 3)), False, LookReason.TWO_KEYS),
        (row((False, 10)), False, LookReason.INACTIVE_KEY),
        (row((True, None)), False, LookReason.UNKNOWN_DATE),
    ],
)
def test_who_gets_a_look(
    report_row: ReportRow, in_flight: bool, expected: LookReason | None
) -> None:
    assert look_reason(report_row, NOW, timedelta(days=80), in_flight=in_flight) is expected


def test_selection_keeps_report_order_and_marks() -> None:
    rows = [row((True, 5)), row((True, 90)), row((True, 1))]
    rows = [ReportRow(f"u{n}", r.arn, r.created, r.keys) for n, r in enumerate(rows)]
    picked = select_candidates(rows, NOW, 80, in_flight=frozenset({"u2"}))
    assert [(c.row.user_name, c.reason) for c in picked] == [
        ("u1", LookReason.AGE),
        ("u2", LookReason.IN_FLIGHT),
    ]


def report_row_for(keys: list[AccessKey]) -> ReportRow:
    """What IAM's report shows for these keys (it has no key ids)."""
    return ReportRow(
        USER.name,
        "arn:aws:iam::123456789012:user/prop",
        None,
        tuple(ReportKey(n, k.active, k.created, k.last_used) for n, k in enumerate(keys, 1)),
    )


@pytest.mark.slow
@given(
    keys=key_sets(),
    state=stored_states(),
    rotate_after=st.integers(1, 120),
    horizon=st.integers(1, 120),
    grace=st.integers(0, 30),
    delete_after=st.integers(0, 30),
)
def test_a_user_left_out_has_nothing_due(
    keys: list[AccessKey],
    state: StoredState | None,
    rotate_after: int,
    horizon: int,
    grace: int,
    delete_after: int,
) -> None:
    # The selection's safety: whatever the stored state, skipping a user never skips an action,
    # as long as the horizon is at most the user's rotation age (rotate_after_days, or sooner
    # for the max-age cap: issue 10).
    policy = Policy(
        rotate_after_days=rotate_after, grace_days=grace, delete_after_days=delete_after
    )
    horizon = min(horizon, policy.rotation_days)
    in_flight = state is not None and state.pending_since is not None
    reason = look_reason(report_row_for(keys), NOW, timedelta(days=horizon), in_flight=in_flight)
    if reason is None:
        found = plan(USER, keys, state, policy, NOW)
        assert found.actions == ()
        assert found.refusal is None
