"""A run reads a key's last use only where a decision reads it (on the in-memory fakes, whose
IAM records each read as ``GetAccessKeyLastUsed`` would be made)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from keyturn.core.actions import ActionKind, Reason
from keyturn.core.policy import Policy
from keyturn.testing import FakeAws

REMINDED = Policy(warn_before=timedelta(days=1))
"""The opt-in reminder a day before deactivation, so that its run is looked at too."""


def _run(aws: FakeAws) -> tuple[list[ActionKind], list[str]]:
    """One daily run of ``app``: what it did, and whose last use it read."""
    aws.iam.last_use_reads.clear()
    result = aws.rotator(replace(aws.settings, policy=REMINDED)).run()
    (user,) = result.users
    return [d.action.kind for d in user.done], list(aws.iam.last_use_reads)


def test_a_lifecycle_reads_the_last_use_only_where_a_decision_reads_it() -> None:
    # GIVEN a user with one key due, whose consumer never moves to the new key
    aws = FakeAws()
    old = aws.add_due_user()
    # WHEN the daily runs rotate, warn, deactivate and delete
    rotate, rotate_reads = _run(aws)
    new = aws.current("app")
    assert new is not None
    aws.clock.advance(days=6)
    warn, warn_reads = _run(aws)
    aws.clock.advance(days=1)
    deactivate, deactivate_reads = _run(aws)
    aws.clock.advance(days=7)
    delete, delete_reads = _run(aws)
    # THEN each step happened, and reads were made only for the decisions that need them
    assert [rotate, warn, deactivate, delete] == [
        [ActionKind.CREATE],
        [ActionKind.WARN],
        [ActionKind.DEACTIVATE],
        [ActionKind.DELETE],
    ]
    assert rotate_reads == []  # the due key's age decides; its last use decides nothing
    assert warn_reads == [new]  # early retirement: the new key shows no use, so no more
    assert sorted(deactivate_reads) == sorted([old, new])  # in use? the switch delay
    assert delete_reads == [new]  # a switch after the deactivation is still recorded


def test_the_previous_keys_use_is_read_once_the_new_key_shows_use() -> None:
    # GIVEN a rotated user whose consumer moved to the new key two days later
    aws = FakeAws()
    old = aws.add_due_user()
    _run(aws)
    new = aws.current("app")
    assert new is not None
    aws.clock.advance(days=2)
    aws.iam.record_use("app", new)
    aws.clock.advance(hours=1)
    # WHEN the daily run looks again
    aws.iam.last_use_reads.clear()
    result = aws.rotator().run()
    # THEN it read the new key's use, then the previous key's, and retired it early
    assert aws.iam.last_use_reads == [new, old]
    (user,) = result.users
    assert [(d.action.kind, d.action.reason) for d in user.done] == [
        (ActionKind.DEACTIVATE, Reason.CONSUMER_SWITCHED)
    ]


def test_the_hourly_pass_reads_the_previous_key_only_after_a_switch() -> None:
    aws = FakeAws()
    aws.add_due_user()
    _run(aws)
    new = aws.current("app")
    aws.clock.advance(hours=2)
    aws.iam.last_use_reads.clear()
    assert aws.rotator().retire().users[0].done == ()
    assert aws.iam.last_use_reads == [new]


def test_a_scan_reads_every_keys_last_use_to_show_it() -> None:
    # GIVEN a rotated user in grace
    aws = FakeAws()
    old = aws.add_due_user()
    _run(aws)
    aws.iam.record_use("app", old)
    aws.iam.last_use_reads.clear()
    # WHEN the keys are scanned (what the scan table and the key-age report show)
    scan = aws.rotator().plan_all()
    # THEN both keys' last uses were read and are shown
    (user,) = scan.users
    assert sorted(aws.iam.last_use_reads) == sorted(k.key_id for k in user.keys)
    assert {k.key_id: k.last_used is not None for k in user.keys}[old]
