"""The engine over the in-memory fakes: ordering, crash safety and refusals."""

from __future__ import annotations

from dataclasses import replace
from itertools import chain, repeat

import pytest

from keyturn.core import KeyStatus
from keyturn.core.delivery import Marks
from keyturn.core.last_use import LastUseWanted, every_key
from keyturn.errors import AwsError, PartialRotationError, RefusedError, UserNotFoundError
from keyturn.rotation.ports import NotificationKind
from keyturn.rotation.results import Status
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

TAGGED = Settings(scope=Scope(manage_tagged=True))
"""Tag opt-in on, as a deployment with ManageTaggedUsers=true has it."""


def test_rotate_creates_and_stores_before_touching_the_old_key(world: FakeAws) -> None:
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    result = world.rotator().rotate("app")
    new = result.done[0].key_id
    assert result.status is Status.CHANGED
    assert world.current("app") == new
    assert {k.key_id: k.status for k in world.iam.keys["app"]} == {
        old.key_id: KeyStatus.ACTIVE,
        new: KeyStatus.ACTIVE,
    }
    assert [n.kind for n in world.notifier.sent] == [NotificationKind.ROTATED]


def test_grace_zero_retires_the_old_key_in_the_same_call(world: FakeAws) -> None:
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=5)
    result = world.rotator().rotate("app", grace_days=0, delete_after_days=0)
    assert old.key_id not in world.key_ids("app")
    assert [d.action.kind.value for d in result.done] == ["create", "deactivate", "delete"]


def test_a_failed_secret_write_removes_the_new_key_and_leaves_the_old_one(world: FakeAws) -> None:
    # GIVEN a user with one old key, and a secret store that fails the next write
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    world.secrets.fail_deliveries = 1
    # WHEN the rotation runs
    with pytest.raises(PartialRotationError) as caught:
        world.rotator().rotate("app")
    # THEN only the old key remains, active, and a failure was notified
    assert world.iam.keys["app"] == [old]
    assert world.current("app") is None
    assert "DeliveryError" in type(caught.value.cause).__name__
    assert world.notifier.sent[-1].kind is NotificationKind.FAILED
    # AND the next run rotates normally
    world.rotator().rotate("app")
    assert len(world.iam.keys["app"]) == 2


def test_a_crash_between_create_and_store_is_repaired_by_the_next_run(world: FakeAws) -> None:
    world.iam.add_user("app", tags={"keyturn:managed": "true"})
    world.iam.add_key("app", age_days=85)
    rotator = world.rotator()
    # Simulate the crash: the in-flight mark and the key exist, the secret was never stored.
    world.secrets.set_marks("app", Marks(pending_since=world.clock.now()))
    lost = world.iam.create_key("app").key_id
    world.clock.advance(minutes=5)
    assert rotator.run().users[0].status is Status.UNCHANGED  # still in flight: hands off
    world.clock.advance(minutes=20)
    result = rotator.run().users[0]
    assert lost not in world.key_ids("app")
    assert world.current("app") in world.key_ids("app")
    assert [d.action.kind.value for d in result.done][:2] == ["deactivate", "delete"]


def test_two_active_keys_are_refused_with_a_notification(world: FakeAws) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=95)
    world.iam.add_key("app", age_days=30)
    before = list(world.iam.keys["app"])
    with pytest.raises(RefusedError, match="two active keys"):
        world.rotator().rotate("app")
    assert world.iam.keys["app"] == before
    assert world.notifier.sent[-1].kind is NotificationKind.REFUSED


def test_unknown_users_and_exempt_users(world: FakeAws) -> None:
    with pytest.raises(UserNotFoundError):
        world.rotator().rotate("ghost")
    world.iam.add_user("vip", tags={"keyturn:exempt": "true"})
    with pytest.raises(RefusedError, match="exempt"):
        world.rotator().rotate("vip")


def test_a_bad_tag_refuses_that_user_only(world: FakeAws) -> None:
    world.iam.add_user("bad", tags={"keyturn:managed": "true", "keyturn:grace-days": "soon"})
    world.iam.add_user("good", tags={"keyturn:managed": "true"})
    world.iam.add_key("good", age_days=81)
    run = world.rotator().run()
    by_user = {u.user_name: u for u in run.users}
    assert by_user["bad"].status is Status.REFUSED
    assert "keyturn:grace-days" in by_user["bad"].message
    assert by_user["good"].status is Status.CHANGED


def test_run_touches_only_managed_users(world: FakeAws) -> None:
    settings = Settings(
        scope=Scope(user_path="/svc/", user_names=frozenset({"listed"}), manage_tagged=True)
    )
    for name, path, tags in [
        ("tagged", "/", {"keyturn:managed": "true"}),
        ("pathed", "/svc/", {}),
        ("listed", "/", {}),
        ("other", "/", {}),
    ]:
        world.iam.add_user(name, path=path, tags=tags)
        world.iam.add_key(name, age_days=85)
    run = world.rotator(settings).run()
    statuses = {u.user_name: u.status for u in run.users}
    assert statuses == {
        "tagged": Status.CHANGED,
        "pathed": Status.CHANGED,
        "listed": Status.CHANGED,
        "other": Status.UNMANAGED,
    }
    assert len(world.iam.keys["other"]) == 1


def test_the_managed_tag_counts_only_when_the_operator_turned_tag_opt_in_on(
    world: FakeAws,
) -> None:
    """Issue 9, T1: whoever may tag a user must not be able to hand its keys to keyturn."""
    world.iam.add_user("admin", tags={"keyturn:managed": "true"})
    world.iam.add_key("admin", age_days=85)
    settings = Settings(scope=Scope(user_path="/svc/"))
    run = world.rotator(settings).run()
    assert [(u.user_name, u.status) for u in run.users] == [("admin", Status.UNMANAGED)]
    assert len(world.iam.keys["admin"]) == 1
    with pytest.raises(RefusedError, match="counts only with KEYTURN_MANAGE_TAGGED=true"):
        world.rotator(settings).rotate("admin")
    assert len(world.iam.keys["admin"]) == 1
    assert world.secrets.secrets == {}


def test_a_run_with_no_scope_says_how_to_configure_one(world: FakeAws) -> None:
    world.iam.add_user("app")
    run = world.rotator(Settings()).run()
    assert run.users[0].status is Status.UNMANAGED
    assert any("KEYTURN_USER_PATH" in note and "KEYTURN_USERS" in note for note in run.notes)


def test_the_full_lifecycle_with_the_default_policy(world: FakeAws) -> None:
    world.iam.add_user("app", tags={"keyturn:managed": "true"})
    old = world.iam.add_key("app", age_days=80).key_id
    rotator = world.rotator()
    kinds = []
    for _ in range(20):
        kinds += [d.action.kind.value for d in rotator.run().users[0].done]
        world.clock.advance(days=1)
    assert kinds == ["create", "deactivate", "delete"]
    assert old not in world.key_ids("app")
    # mailed: the rotation and the deactivation (which names the deletion's run); the deletion
    # itself is announced already, so it goes to EventBridge and the audit log only
    sent = world.notifier.sent
    assert [n.kind.value for n in sent if not n.announced] == ["rotated", "deactivated"]
    assert [n.kind.value for n in sent if n.announced] == ["deleted"]


def test_the_reminder_a_day_before_deactivation_is_opt_in(world: FakeAws) -> None:
    world.iam.add_user("app", tags={"keyturn:managed": "true"})
    world.iam.add_key("app", age_days=80)
    settings = Settings.from_env({"KEYTURN_WARN_BEFORE_DAYS": "1"})
    rotator = world.rotator(replace(world.settings, policy=settings.policy))
    kinds = []
    for _ in range(20):
        kinds += [d.action.kind.value for d in rotator.run().users[0].done]
        world.clock.advance(days=1)
    assert kinds == ["create", "warn", "deactivate", "delete"]
    coming = [n for n in world.notifier.sent if n.kind is NotificationKind.DEACTIVATION_COMING]
    assert len(coming) == 1
    assert not coming[0].announced


def test_restore_makes_the_previous_key_current_again(world: FakeAws) -> None:
    # GIVEN two rotations, so the previous key is one keyturn delivered itself
    world.iam.add_user("app", tags={"keyturn:managed": "true"})
    world.iam.add_key("app", age_days=80)
    rotator = world.rotator()
    first = rotator.rotate("app").done[0].key_id
    world.clock.advance(days=8)
    rotator.run()  # the adopted key is deactivated...
    world.clock.advance(days=7)
    rotator.run()  # ...and deleted
    second = rotator.rotate("app").done[0].key_id
    world.clock.advance(days=8)
    rotator.run()  # the first key is deactivated
    assert world.iam.keys["app"][0].status is KeyStatus.INACTIVE
    # WHEN the operator restores
    rotator.restore("app")
    # THEN the first key is active and AWSCURRENT again; the second is now the previous key
    assert world.current("app") == first
    assert all(k.status is KeyStatus.ACTIVE for k in world.iam.keys["app"])
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.previous_key_id == second
    assert world.notifier.sent[-1].kind is NotificationKind.RESTORED


def test_restore_without_a_previous_key_is_refused(world: FakeAws) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=3)
    with pytest.raises(RefusedError, match="no previous key"):
        world.rotator().restore("app")


class DeniedIam:
    """Wraps the fake IAM: key reads of ``denied`` users fail with AccessDenied."""

    def __init__(self, world: FakeAws, denied: str) -> None:
        self._iam, self._denied = world.iam, denied
        self.key_reads: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._iam, name)

    def list_keys(self, user_name: str, *, last_use: LastUseWanted = every_key) -> list:  # type: ignore[type-arg]
        self.key_reads.append(user_name)
        if user_name == self._denied:
            raise AwsError("ListAccessKeys", "AccessDenied", "not in the role's scope")
        return self._iam.list_keys(user_name, last_use=last_use)


def test_a_run_never_reads_the_keys_of_unmanaged_users(world: FakeAws) -> None:
    # GIVEN a scoped role: keyturn may not read the keys of users outside its scope
    world.iam.add_user("ours", tags={"keyturn:managed": "true"})
    world.iam.add_user("theirs")
    iam = DeniedIam(world, denied="theirs")
    rotator = Rotator(iam, iam, world.secrets, world.notifier, world.clock, TAGGED)  # type: ignore[arg-type]
    # WHEN the scheduled run goes over every user
    run = rotator.run()
    # THEN the outsider is reported without a single read of its keys
    assert {u.user_name: u.status for u in run.users} == {
        "ours": Status.CHANGED,
        "theirs": Status.UNMANAGED,
    }
    assert "theirs" not in iam.key_reads


def test_a_scan_reports_an_unreadable_unmanaged_user_as_not_inspected(world: FakeAws) -> None:
    world.iam.add_user("theirs")
    iam = DeniedIam(world, denied="theirs")
    rotator = Rotator(iam, iam, world.secrets, world.notifier, world.clock)  # type: ignore[arg-type]
    [user] = rotator.plan_all().users
    assert user.status is Status.UNMANAGED
    assert "not inspected: AccessDenied" in user.message


def test_an_unreadable_managed_user_fails_alone_and_the_scan_goes_on(world: FakeAws) -> None:
    """Issue 9.4: a user the role may not read is that user's failure, said loudly in its
    result; every other user is still scanned."""
    world.iam.add_user("ours", tags={"keyturn:managed": "true"})
    world.iam.add_user("also-ours", tags={"keyturn:managed": "true"})
    iam = DeniedIam(world, denied="ours")
    rotator = Rotator(iam, iam, world.secrets, world.notifier, world.clock, TAGGED)  # type: ignore[arg-type]
    by_user = {u.user_name: u for u in rotator.plan_all().users}
    assert by_user["ours"].status is Status.FAILED
    assert "AccessDenied" in by_user["ours"].message
    assert by_user["also-ours"].status is Status.PLANNED


def test_a_run_defers_users_it_has_no_time_to_finish(world: FakeAws) -> None:
    # GIVEN three due users, b's key the oldest, and an invocation whose time runs out after
    # it has read them all and started one rotation
    for name, age in (("a", 85), ("b", 90), ("c", 88)):
        world.iam.add_user(name, tags={"keyturn:managed": "true"})
        world.iam.add_key(name, age_days=age)
    rotator = world.rotator()
    budget = chain([1000.0] * 4, repeat(10.0))
    # WHEN the run asks how long it has left before each user it starts
    run = rotator.run(seconds_left=lambda: next(budget))
    # THEN the most urgent (oldest key) is rotated; the others are deferred, untouched
    assert [u.status for u in run.users] == [Status.DEFERRED, Status.CHANGED, Status.DEFERRED]
    assert run.deferred == 2
    assert len(world.iam.keys["a"]) == len(world.iam.keys["c"]) == 1
    assert "next run" in run.users[0].message
    # AND the next run picks them up
    again = world.rotator().run()
    assert [u.status for u in again.users] == [Status.CHANGED, Status.UNCHANGED, Status.CHANGED]
    assert again.deferred == 0
    assert all(len(world.iam.keys[n]) == 2 for n in ("a", "b", "c"))


def test_the_time_reserve_covers_a_full_verification(world: FakeAws) -> None:
    rotator = world.rotator()
    budget = world.settings.verification.budget.total_seconds()
    assert rotator.worst_case_seconds() > budget
