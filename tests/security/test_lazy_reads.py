"""Reading a key's last use only where a decision reads it must not let anyone steer a
retirement: whoever holds the new key can make it look used, but the old key's own use is
then read before anything retires it (on the in-memory fakes, whose IAM records each read)."""

from __future__ import annotations

import pytest

from keyturn.core.actions import ActionKind
from keyturn.testing import FakeAws


@pytest.mark.attack("last use: the new key's holder uses it to retire an old key still in use")
def test_the_old_keys_use_is_read_before_an_early_retirement() -> None:
    # GIVEN a rotated user whose old key a second consumer still uses
    aws = FakeAws()
    old = aws.add_due_user()
    aws.rotator().run()
    new = aws.current("app")
    assert new is not None
    aws.clock.advance(days=2)
    aws.iam.record_use("app", old)
    # WHEN the new key's holder uses it, so that the consumer looks switched
    aws.iam.record_use("app", new)
    aws.clock.advance(hours=1)
    aws.iam.last_use_reads.clear()
    result = aws.rotator().run()
    # THEN the old key's use was read too, and the old key stays active: both were used
    assert aws.iam.last_use_reads == [new, old]
    (user,) = result.users
    assert user.done == ()
    assert {k.key_id: k.active for k in aws.iam.keys["app"]} == {old: True, new: True}
    # AND once the old key is left behind, the legitimate early retirement still happens
    aws.clock.advance(hours=1)
    aws.iam.record_use("app", new)
    aws.clock.advance(hours=1)
    (user,) = aws.rotator().run().users
    assert [d.action.kind for d in user.done] == [ActionKind.DEACTIVATE]
