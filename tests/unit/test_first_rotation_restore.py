"""Restore after keyturn's first rotation: the key the user had before keyturn comes back.

keyturn never held that key's secret, so the secret keeps naming the new key; the old key is
re-activated and its retirement starts over: no earlier than ``grace_days`` after the restore,
never past the cap when enforced. Whatever ``rotate`` refuses because the key "can still be
restored", ``restore`` restores.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyturn.core import KeyStatus, Policy, codec
from keyturn.core.delivery import Marks
from keyturn.errors import ConfigurationError, RefusedError
from keyturn.rotation.ports import NotificationKind
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

DAY = timedelta(days=1)
NO_CAP = Settings(policy=Policy(enforce_max_age=False), scope=Scope(user_path="/"))


def _first_rotation_retired(world: FakeAws, settings: Settings) -> tuple[str, str]:
    """A key keyturn took over, rotated at 80 days and deactivated 7 days later."""
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=80).key_id
    world.rotator(settings).run()
    world.clock.advance(days=8)
    world.rotator(settings).run()
    assert _status(world, old) is KeyStatus.INACTIVE
    new = world.current("app")
    assert new is not None
    return old, new


def _status(world: FakeAws, key_id: str) -> KeyStatus:
    return next(k.status for k in world.iam.keys["app"] if k.key_id == key_id)


def test_rotate_refuses_what_restore_then_restores(world: FakeAws) -> None:
    # GIVEN the key from before keyturn, deactivated and inside its restore window
    old, new = _first_rotation_retired(world, NO_CAP)
    with pytest.raises(RefusedError, match="can still be restored"):
        world.rotator(NO_CAP).rotate("app")
    now = world.clock.now()
    # WHEN it is restored
    result = world.rotator(NO_CAP).restore("app")
    # THEN it is active again, the secret still names the new key, and both the result and the
    # notice say so, with the first run that may deactivate it: a full grace period from now
    assert _status(world, old) is KeyStatus.ACTIVE
    assert world.current("app") == new
    assert "still names" in result.message
    notice = world.notifier.sent[-1]
    assert notice.kind is NotificationKind.RESTORED
    assert notice.body["CurrentAccessKeyId"] == new
    assert notice.body["DeactivateNotBefore"] == (now + 7 * DAY).isoformat(timespec="seconds")


def test_the_restored_key_keeps_a_fresh_grace_period(world: FakeAws) -> None:
    old, new = _first_rotation_retired(world, NO_CAP)
    world.rotator(NO_CAP).restore("app")
    # WHEN daily runs follow and the consumer uses only the new key
    for _ in range(6):
        world.clock.advance(days=1)
        world.iam.record_use("app", new)
        world.rotator(NO_CAP).run()
        # THEN the old key is not retired early: it was asked back
        assert _status(world, old) is KeyStatus.ACTIVE
    world.clock.advance(days=1)
    world.rotator(NO_CAP).run()
    assert _status(world, old) is KeyStatus.INACTIVE


def test_the_cap_still_wins_when_enforced(world: FakeAws) -> None:
    # GIVEN the old key 88 days old when restored, the 90-day cap enforced
    old, _ = _first_rotation_retired(world, world.settings)
    now = world.clock.now()
    world.rotator().restore("app")
    notice = world.notifier.sent[-1]
    # THEN it goes on the last run surely before its cap (one day on: the cap falls on the
    # slot of the run two days on, which could come late), not after a full grace period
    assert notice.body["DeactivateNotBefore"] == (now + DAY).isoformat(timespec="seconds")
    world.clock.advance(days=1)
    world.iam.record_use("app", old)
    world.rotator().run()
    assert _status(world, old) is KeyStatus.INACTIVE


def test_an_active_previous_key_is_restored_too(world: FakeAws) -> None:
    # GIVEN the first rotation two days ago: the old key is still in its grace period
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=80).key_id
    world.rotator(NO_CAP).run()
    world.clock.advance(days=2)
    now = world.clock.now()
    world.rotator(NO_CAP).restore("app")
    assert _status(world, old) is KeyStatus.ACTIVE
    deadline = world.notifier.sent[-1].body["DeactivateNotBefore"]
    assert deadline == (now + 7 * DAY).isoformat(timespec="seconds")


def test_the_restored_mark_is_parsed_strictly() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    tags = codec.mark_tags(Marks(restored=("AKIAOLD0000000000000", at)))
    state = codec.state_from({"AccessKeyId": "AKIANEW0000000000000"}, tags)
    assert state is not None
    assert state.restored_time("AKIAOLD0000000000000") == at
    with pytest.raises(ConfigurationError, match="keyturn:restored"):
        codec.state_from(None, {"keyturn:restored": "AKIAOLD0000000000000@yesterday"})
    with pytest.raises(ConfigurationError, match="keyturn:restored"):
        codec.state_from(None, {"keyturn:restored": "not a key@2026-06-01T00:00:00+00:00"})
