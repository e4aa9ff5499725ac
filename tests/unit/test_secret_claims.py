"""The service claims a user's secret before it changes anything of the user's (in-memory).

A secret someone else put at keyturn's name is refused for that user, with a notification, and
left untouched; so are the user's IAM keys, even when the plan would start with an IAM action.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from keyturn.core import KeyStatus, Policy
from keyturn.errors import RefusedError
from keyturn.rotation.ports import NotificationKind
from keyturn.rotation.results import Status
from keyturn.rotation.secrets_manager import RotationEvent, Step
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

ATTACKER_KEY = "arn:aws:kms:us-east-1:666666666666:key/0bad0bad-0bad-0bad-0bad-0bad0bad0bad"


def _planted(world: FakeAws, how: str) -> None:
    owner = world.iam.users["app"].arn
    policy = world.secrets.trust.policy_for(owner)
    if how == "own KMS key":
        world.secrets.plant("app", kms_key_id=ATTACKER_KEY, policy=policy)
    elif how == "rotation function":
        arn = "arn:aws:lambda:us-east-1:123456789012:function:harvest"
        world.secrets.plant("app", rotation_function_arn=arn, policy=policy)
    elif how == "replica":
        world.secrets.plant("app", replica_regions=("eu-west-1",), policy=policy)
    elif how == "no policy":
        world.secrets.plant("app")
    elif how == "own policy":
        world.secrets.plant("app", policy={"Version": "2012-10-17", "Statement": []})


def _secret(world: FakeAws) -> Any:
    return copy.deepcopy(world.secrets.secrets["app"])


HOW = ["own KMS key", "rotation function", "replica", "no policy", "own policy"]


@pytest.mark.parametrize("how", HOW)
def test_a_planted_secret_is_refused_and_left_as_it_was(world: FakeAws, how: str) -> None:
    # GIVEN a user due for rotation, and a secret someone else put at its name first
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    _planted(world, how)
    before = _secret(world)
    # WHEN keyturn is asked to rotate the user
    with pytest.raises(RefusedError, match="secret keyturn/app was not created by keyturn"):
        world.rotator().rotate("app")
    # THEN nothing changed: the old key alone, the secret as planted; the refusal was notified
    assert world.iam.keys["app"] == [old]
    assert _secret(world) == before
    [sent] = world.notifier.sent
    assert sent.kind is NotificationKind.REFUSED
    assert "not created by keyturn" in str(sent.body["Reason"])


def test_a_scheduled_run_refuses_the_user_and_goes_on_with_the_rest(world: FakeAws) -> None:
    managed = Settings(scope=Scope(user_names=frozenset({"app", "other"})))
    for name in ("app", "other"):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=85)
    _planted(world, "own KMS key")
    result = world.rotator(managed).run()
    statuses = {u.user_name: u.status for u in result.users}
    assert statuses == {"app": Status.REFUSED, "other": Status.CHANGED}
    assert len(world.iam.keys["app"]) == 1


def test_no_iam_action_runs_before_the_claim(world: FakeAws) -> None:
    # GIVEN a plan that starts in IAM: an inactive key deleted to make room, then a creation
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=200, status=KeyStatus.INACTIVE)
    world.iam.add_key("app", age_days=85)
    before = list(world.iam.keys["app"])
    settings = Settings(policy=Policy(delete_foreign_keys=True))
    found = world.rotator(settings).inspect(world.iam.users["app"], force=True)
    assert [a.kind.value for a in found.plan.actions][:2] == ["delete", "create"]
    # WHEN the secret at its name is someone else's
    _planted(world, "own KMS key")
    with pytest.raises(RefusedError):
        world.rotator(settings).rotate("app")
    # THEN not even the inactive key was deleted
    assert world.iam.keys["app"] == before


def test_a_secret_keyturn_created_is_trusted_on_later_runs(world: FakeAws) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    first = world.rotator().rotate("app", grace_days=0).done[0].key_id
    assert world.secrets.secrets["app"].policy == world.secrets.trust.policy_for(
        world.iam.users["app"].arn
    )
    world.clock.advance(days=100)
    result = world.rotator().rotate("app", grace_days=0)
    assert result.status is Status.CHANGED
    assert world.current("app") not in {None, first}
    assert NotificationKind.REFUSED not in {n.kind for n in world.notifier.sent}


def test_later_steps_of_a_secrets_manager_rotation_refuse_a_planted_secret(
    world: FakeAws,
) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    _planted(world, "rotation function")
    before = _secret(world)
    for step in (Step.TEST, Step.FINISH):
        with pytest.raises(RefusedError, match="rotated by"):
            world.rotator().rotation_step(RotationEvent(step, "keyturn/app", "token-1"))
    assert _secret(world) == before


def test_keyturns_own_creation_stopped_before_its_policy_is_finished(world: FakeAws) -> None:
    # GIVEN a first run stopped between CreateSecret and PutResourcePolicy
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    world.secrets.plant("app", tags={"keyturn:managed-by": "keyturn", "keyturn:user": "app"})
    # WHEN the next run comes: it puts keyturn's policy on, and rotates
    assert world.rotator().rotate("app").status is Status.CHANGED
    owner = world.iam.users["app"].arn
    assert world.secrets.secrets["app"].policy == world.secrets.trust.policy_for(owner)


@pytest.mark.parametrize(
    "extra", [{"keyturn:warned": "AKIAOLD0000000000000"}, {"owner": "mallory"}]
)
def test_a_bare_creation_with_anything_else_in_it_is_refused(
    world: FakeAws, extra: dict[str, str]
) -> None:
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    tags = {"keyturn:managed-by": "keyturn", "keyturn:user": "app", **extra}
    world.secrets.plant("app", tags=tags)
    with pytest.raises(RefusedError, match="it has no resource policy"):
        world.rotator().rotate("app")
    assert world.iam.keys["app"] == [old]
    assert world.secrets.secrets["app"].policy is None


@pytest.mark.parametrize("fmt", ["since:{}@", "{}@", "{}"])
def test_a_mark_on_a_bare_creation_is_never_believed(world: FakeAws, fmt: str) -> None:
    # GIVEN a bare creation whose in-flight mark (this keyturn's or an older one's format)
    # makes the user's one key look created by that rotation: keyturn's undelivered key
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    mark = fmt.format((old.created - timedelta(seconds=30)).isoformat())
    tags = {"keyturn:managed-by": "keyturn", "keyturn:user": "app", "keyturn:pending-since": mark}
    world.secrets.plant("app", tags=tags)
    # THEN the state has no rotation in flight (no policy: keyturn created no key for it)
    state = world.secrets.read_state("app")
    assert state is None or state.pending_since is None
    # WHEN the user is rotated
    result = world.rotator().rotate("app")
    # THEN keyturn finished the creation, the old key is the previous one, still active
    assert result.status is Status.CHANGED
    owner = world.iam.users["app"].arn
    assert world.secrets.secrets["app"].policy == world.secrets.trust.policy_for(owner)
    statuses = {k.key_id: k.status for k in world.iam.keys["app"]}
    assert len(statuses) == 2
    assert statuses[old.key_id] is KeyStatus.ACTIVE
    assert world.secrets.secrets["app"].tags["keyturn:pending-since"] == ""


def test_a_first_rotation_stopped_after_its_policy_waits_then_starts_over(
    world: FakeAws,
) -> None:
    # GIVEN a first run stopped after PutResourcePolicy, before CreateAccessKey: the secret is
    # keyturn's, its mark (from CreateSecret) believed, and no key was created for it
    world.iam.add_user("app")
    old = world.iam.add_key("app", age_days=85)
    owner = world.iam.users["app"].arn
    mark = f"since:{world.clock.now().isoformat()}@{old.key_id}"
    tags = {"keyturn:managed-by": "keyturn", "keyturn:user": "app", "keyturn:pending-since": mark}
    world.secrets.plant("app", tags=tags, policy=world.secrets.trust.policy_for(owner))
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.pending_since == world.clock.now()
    # WHEN a run comes at once THEN it waits for that rotation
    assert world.rotator().run().users[0].status is Status.UNCHANGED
    # WHEN the next one comes after the longest run THEN it clears the mark and rotates
    world.clock.advance(days=1)
    assert world.rotator().run().users[0].status is Status.CHANGED
    statuses = {k.key_id: k.status for k in world.iam.keys["app"]}
    assert len(statuses) == 2
    assert statuses[old.key_id] is KeyStatus.ACTIVE
    assert world.secrets.secrets["app"].tags["keyturn:pending-since"] == ""
