"""The hourly retirement pass (issue 10.3) on the in-memory fakes."""

from __future__ import annotations

from keyturn.core import codec
from keyturn.core.actions import ActionKind, Reason
from keyturn.rotation.results import Status
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws


def _rotated(aws: FakeAws, user: str = "app") -> tuple[str, str]:
    """A user whose 85-day-old key was just rotated: two active keys, in grace."""
    aws.iam.add_user(user)
    old = aws.iam.add_key(user, age_days=85).key_id
    aws.rotator().run()
    new = aws.current(user)
    assert new is not None
    assert new != old
    return old, new


def test_a_rotation_tags_the_secret_in_grace_and_deactivation_removes_the_tag() -> None:
    aws = FakeAws()
    old, _ = _rotated(aws)
    assert aws.secrets.secrets["app"].tags[codec.TAG_IN_GRACE] == f"grace:{old}"
    aws.clock.advance(days=7)
    aws.rotator().run()
    assert aws.secrets.secrets["app"].tags[codec.TAG_IN_GRACE] == ""  # emptied
    assert aws.secrets.in_grace() == []


def test_the_pass_deactivates_within_the_hour_of_the_switch() -> None:
    # GIVEN a user in grace whose consumer switches to the new key two days later
    aws = FakeAws()
    old, new = _rotated(aws)
    retire = aws.rotator().retire
    aws.clock.advance(hours=1)
    assert [u.status for u in retire().users] == [Status.UNCHANGED]
    aws.clock.advance(days=2)
    aws.iam.record_use("app", new)
    # WHEN the hourly pass runs an hour later
    aws.clock.advance(hours=1)
    result = retire()
    # THEN the old key is inactive, the switch delay recorded, the user out of the listing
    (user,) = result.users
    assert [(d.action.kind, d.action.reason) for d in user.done] == [
        (ActionKind.DEACTIVATE, Reason.CONSUMER_SWITCHED)
    ]
    assert {k.key_id: k.active for k in aws.iam.keys["app"]} == {old: False, new: True}
    state = aws.secrets.read_state("app")
    assert state is not None
    assert state.switch_key_id == new
    assert state.switch_days == (2.04,)
    assert aws.secrets.in_grace() == []


def test_the_pass_never_rotates_deletes_or_retires_a_key_in_use() -> None:
    aws = FakeAws()
    old, new = _rotated(aws)
    aws.clock.advance(days=8)  # past the grace period: the daily run's job, not the pass's
    aws.iam.record_use("app", old)
    aws.clock.advance(hours=1)
    (user,) = aws.rotator().retire().users
    assert user.done == ()
    assert {k.key_id: k.active for k in aws.iam.keys["app"]} == {old: True, new: True}
    assert [n.kind.value for n in aws.notifier.sent] == ["rotated"]


def test_the_pass_leaves_users_outside_the_scope_alone() -> None:
    aws = FakeAws()
    _old, new = _rotated(aws)
    aws.iam.record_use("app", new, aws.clock.advance(hours=2))
    narrow = Settings(scope=Scope(user_names=frozenset({"someone-else"})))
    (user,) = aws.rotator(narrow).retire().users
    assert user.status is Status.UNMANAGED
    assert all(k.active for k in aws.iam.keys["app"])


def test_a_stale_in_grace_tag_is_dropped() -> None:
    # GIVEN the old key was deactivated outside keyturn
    aws = FakeAws()
    old, _ = _rotated(aws)
    aws.iam.set_key_status("app", old, aws.iam.keys["app"][0].status.INACTIVE)
    (user,) = aws.rotator().retire().users
    assert user.done == ()
    assert aws.secrets.in_grace() == []
