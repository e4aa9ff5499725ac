"""Staging, proving and promoting keys on the in-memory fakes: failures and crashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyturn.core import KeyStatus
from keyturn.errors import PartialRotationError, VerificationError
from keyturn.rotation.ports import NotificationKind
from keyturn.rotation.results import Status
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws, InMemoryVerifier

pytestmark = pytest.mark.world(users={"app": None})


def _proving(world: FakeAws, propagation: timedelta) -> tuple[Rotator, InMemoryVerifier]:
    verifier = InMemoryVerifier(world.iam, propagation)
    rotator = Rotator(
        world.iam,
        world.iam,
        world.secrets,
        world.notifier,
        world.clock,
        Settings(scope=Scope(user_names=frozenset({"app"}))),
        verifier=verifier,
        sleep=world.clock.sleep,
    )
    return rotator, verifier


def _labels(world: FakeAws, user: str) -> dict[str, set[str]]:
    return {token: stages for token, _, stages in world.secrets.secrets[user].versions}


def test_a_key_that_propagates_slowly_is_promoted_once_proved(world: FakeAws) -> None:
    world.iam.add_key("app", age_days=85)
    rotator, verifier = _proving(world, timedelta(seconds=8))
    result = rotator.rotate("app")
    new = result.done[0].key_id
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.current_key_id == new
    assert state.verified_key_id == new
    assert state.verified_at == state.stored_at + timedelta(seconds=25)  # type: ignore[operator]
    assert verifier.probes == 6
    assert state.pending_since is None


def test_a_key_that_never_authenticates_is_removed_and_nothing_promoted(world: FakeAws) -> None:
    # GIVEN a first, good rotation, then a key that will never authenticate
    old = world.iam.add_key("app", age_days=85)
    _proving(world, timedelta(0))[0].rotate("app")
    current = world.current("app")
    world.iam.delete_key("app", old.key_id)
    world.clock.advance(days=1)
    rotator, _ = _proving(world, timedelta(days=1))
    # WHEN a rotation runs
    with pytest.raises(PartialRotationError) as caught:
        rotator.rotate("app")
    # THEN the new key is gone, the current key untouched, AWSPENDING on no other version
    assert isinstance(caught.value.cause, VerificationError)
    assert world.key_ids("app") == [current]
    assert world.current("app") == current
    pending = [t for t, stages in _labels(world, "app").items() if "AWSPENDING" in stages]
    assert all("AWSCURRENT" in _labels(world, "app")[t] for t in pending)
    assert world.notifier.sent[-1].kind is NotificationKind.FAILED
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.pending_since is None
    # AND the next rotation gets a fresh token and succeeds
    world.clock.advance(hours=2)
    _proving(world, timedelta(0))[0].rotate("app")
    assert world.current("app") != current


def test_a_first_delivery_that_never_authenticates_leaves_no_key_behind(world: FakeAws) -> None:
    old = world.iam.add_key("app", age_days=85)
    rotator, _ = _proving(world, timedelta(days=1))
    (result,) = rotator.run().users
    assert result.status is Status.FAILED
    assert isinstance(result.error, PartialRotationError)
    assert isinstance(result.error.cause, VerificationError)
    # Secrets Manager made the first version AWSCURRENT; its key is gone, the old key stays
    assert world.key_ids("app") == [old.key_id]
    assert world.iam.keys["app"][0].status is KeyStatus.ACTIVE
    # AND the next run rotates the old key again
    world.clock.advance(days=1)
    _proving(world, timedelta(0))[0].run()
    assert world.current("app") in world.key_ids("app")
    assert len(world.key_ids("app")) == 2


def test_a_crash_between_staging_and_promotion_is_cleaned_up(world: FakeAws) -> None:
    old = world.iam.add_key("app", age_days=85)
    _proving(world, timedelta(0))[0].rotate("app")
    first = world.current("app")
    world.iam.delete_key("app", old.key_id)
    world.clock.advance(days=1)
    # GIVEN a run that staged and proved a key, then died before promoting it
    world.secrets.fail_promotions = 1
    rotator, _ = _proving(world, timedelta(0))
    with pytest.raises(PartialRotationError):
        rotator.rotate("app")
    staged = next(k for k in world.key_ids("app") if k != first)
    assert world.current("app") == first
    # WHEN runs come: first within max_run (left alone), then after it
    assert rotator.run().users[0].done == ()
    world.clock.advance(minutes=20)
    later = _proving(world, timedelta(0))[0].run().users[0]
    # THEN the staged key is deactivated and deleted and AWSPENDING dropped from it
    assert [(d.action.kind.value, d.key_id) for d in later.done][:2] == [
        ("deactivate", staged),
        ("delete", staged),
    ]
    assert staged not in world.key_ids("app")
    assert all(
        "AWSPENDING" not in stages or "AWSCURRENT" in stages
        for stages in _labels(world, "app").values()
    )
    assert world.current("app") == first


def test_restore_proves_the_key_and_reverts_if_it_does_not_authenticate(world: FakeAws) -> None:
    world.iam.add_key("app", age_days=85)
    for days in (0, 8, 8):
        world.clock.advance(days=days)
        _proving(world, timedelta(0))[0].run()
    first = world.current("app")
    world.clock.advance(days=1)
    _proving(world, timedelta(0))[0].rotate("app")
    world.clock.advance(days=8)
    _proving(world, timedelta(0))[0].run()  # first generation deactivated
    second = world.current("app")
    statuses = {k.key_id: k.status for k in world.iam.keys["app"]}
    assert statuses[first] is KeyStatus.INACTIVE  # type: ignore[index]
    # a restore whose key never authenticates changes nothing
    never = InMemoryVerifier(world.iam, timedelta(days=999))
    failing = _proving(world, timedelta(0))[0]
    failing.promoter.prover.verifier = never  # type: ignore[union-attr]
    with pytest.raises(VerificationError):
        failing.restore("app")
    assert {k.key_id: k.status for k in world.iam.keys["app"]} == statuses
    assert world.current("app") == second
    # a good restore makes the first generation current and active again
    _proving(world, timedelta(0))[0].restore("app")
    assert world.current("app") == first
    assert {k.key_id: k.status for k in world.iam.keys["app"]}[first] is KeyStatus.ACTIVE  # type: ignore[index]
