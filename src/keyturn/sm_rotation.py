"""Secrets Manager's rotation protocol: keyturn as the rotation function of ``keyturn/<user>``.

Secrets Manager invokes the function four times per rotation with the same
``ClientRequestToken``; every step is safe to repeat:

* ``createSecret`` plans a rotation Secrets Manager asked for (retiring the previous key first
  only if no consumer needs it), creates the key and stores it as AWSPENDING under the token.
  If that version already holds a key, nothing new is created.
* ``setSecret`` has nothing to do: the IAM key already exists.
* ``testSecret`` proves the AWSPENDING key authenticates; if it never does, the key is removed
  and AWSPENDING dropped, so the old key stays current and untouched.
* ``finishSecret`` moves AWSCURRENT to the tested version (proving it first if testSecret did
  not) and clears the in-flight mark.

The rotation always ends with AWSPENDING on the current version (success) or on none (failure),
the two states Secrets Manager accepts. A failed step raises, so Secrets Manager marks the
rotation failed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from keyturn import notifications
from keyturn.core.actions import ActionKind
from keyturn.core.models import NewKey
from keyturn.errors import ConfigurationError, VerificationError
from keyturn.ports import StagedVersion

if TYPE_CHECKING:
    from keyturn.engine import Rotator

PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


class Step(StrEnum):
    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


@dataclass(frozen=True)
class RotationEvent:
    """One invocation by Secrets Manager."""

    step: Step
    secret_id: str
    token: str


@dataclass(frozen=True)
class StepOutcome:
    """What a step did: ``created``, ``already-created``, ``nothing-to-set``, ``verified``,
    ``promoted`` or ``already-current``."""

    step: Step
    user_name: str
    key_id: str | None
    outcome: str


def run_step(rotator: Rotator, event: RotationEvent) -> StepOutcome:
    """Serve one step of a Secrets Manager rotation.

    Raises:
        RefusedError: the secret is not keyturn's, the rotation was abandoned, or a safety rule
            forbids it; VerificationError: the new key never authenticated (it was removed);
            PartialRotationError / AwsError: a call failed.
    """
    user_name = rotator.secrets.find_user(event.secret_id)
    match event.step:
        case Step.CREATE:
            return _create(rotator, user_name, event.token)
        case Step.SET:
            return StepOutcome(event.step, user_name, None, "nothing-to-set")
        case Step.TEST:
            return _test(rotator, user_name, event.token)
        case Step.FINISH:
            return _finish(rotator, user_name, event.token)


def _create(rotator: Rotator, user_name: str, token: str) -> StepOutcome:
    existing = _version(rotator, user_name, token, require_pending=False)
    if existing is not None:
        return StepOutcome(Step.CREATE, user_name, existing.key.key_id, "already-created")
    user = rotator.directory.get_user(user_name)
    try:
        policy = rotator.settings.policy.for_user(user.name, user.tags)
    except ConfigurationError as exc:
        raise rotator.refuse(user_name, str(exc)) from None
    if policy.exempt:
        raise rotator.refuse(user_name, "the user is exempt (tag keyturn:exempt=true)")
    now = rotator.clock.now()
    found = rotator.inspect(user, at=now, policy=policy, make_room=True)
    kinds = [a.kind for a in found.plan.actions]
    if found.plan.refusal is None and ActionKind.CREATE not in kinds:
        reason = "; ".join(found.plan.notes) or "nothing to rotate"
        raise rotator.refuse(user_name, reason)
    if ActionKind.CREATE in kinds:
        # Stop at the creation: what follows it assumes the new key is current.
        upto = found.plan.actions[: kinds.index(ActionKind.CREATE) + 1]
        found = replace(found, plan=replace(found.plan, actions=upto))
    result = rotator.apply_plan(found, now, staging_token=token)
    created = next(d.key_id for d in result.done if d.action.kind is ActionKind.CREATE)
    return StepOutcome(Step.CREATE, user_name, created, "created")


def _test(rotator: Rotator, user_name: str, token: str) -> StepOutcome:
    version = _version(rotator, user_name, token, require_pending=True)
    if version is None or CURRENT in version.stages:
        key_id = version.key.key_id if version else None
        return StepOutcome(Step.TEST, user_name, key_id, "already-current")
    _prove(rotator, user_name, version)
    return StepOutcome(Step.TEST, user_name, version.key.key_id, "verified")


def _finish(rotator: Rotator, user_name: str, token: str) -> StepOutcome:
    version = _version(rotator, user_name, token, require_pending=True)
    if version is None or CURRENT in version.stages:
        key_id = version.key.key_id if version else None
        return StepOutcome(Step.FINISH, user_name, key_id, "already-current")
    state = rotator.secrets.read_state(user_name)
    if state is None or state.verified_key_id != version.key.key_id:
        _prove(rotator, user_name, version)
    ref = rotator.executor.promotion.promote(user_name, token)
    key = version.key
    rotator.audit(user_name, "create", key.key_id, "secrets-manager-rotation", None)
    stored = rotator.secrets.read_state(user_name)
    grace = timedelta(days=(stored.grace_days or 0) if stored else 0)
    delete_after = timedelta(days=(stored.delete_after_days or 0) if stored else 0)
    now = rotator.clock.now()
    schedule = (
        (now + grace, now + grace + delete_after) if version.previous_key_id else (None, None)
    )
    rotator.notifier.publish(
        notifications.rotated(
            NewKey(user_name, key.key_id, key.secret, key.created),
            version.previous_key_id,
            ref,
            schedule,
            include_secret=rotator.settings.notify_include_secret,
        )
    )
    return StepOutcome(Step.FINISH, user_name, key.key_id, "promoted")


def _version(
    rotator: Rotator, user_name: str, token: str, *, require_pending: bool
) -> StagedVersion | None:
    """The token's version; refuses an abandoned one (value stored, no label left)."""
    version = rotator.secrets.version(user_name, token)
    if version is None:
        if require_pending:
            raise rotator.refuse(user_name, f"rotation {token} has no staged key (createSecret?)")
        return None
    if not version.stages & {PENDING, CURRENT}:
        reason = f"rotation {token} was abandoned and its key removed; start a new rotation"
        raise rotator.refuse(user_name, reason)
    return version


def _prove(rotator: Rotator, user_name: str, version: StagedVersion) -> None:
    promotion = rotator.executor.promotion
    try:
        promotion.verify(user_name, version.key, rotator.clock.now())
    except VerificationError as exc:
        promotion.discard(user_name, version.key.key_id, version.version_id)
        rotator.audit(user_name, "verify", version.key.key_id, "secrets-manager-test", exc)
        rotator.notify_failure(user_name, exc)
        raise
    rotator.audit(user_name, "verify", version.key.key_id, "secrets-manager-test", None)
