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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from keyturn.core.delivery import CURRENT, PENDING, StagedVersion
from keyturn.core.models import NewKey
from keyturn.errors import VerificationError
from keyturn.rotation import notices
from keyturn.rotation.audit import Reporter
from keyturn.rotation.ports import Clock, Notifier, Secrets
from keyturn.rotation.promotion import Promoter

StageRotation = Callable[[str, str], str]
"""Plans and stages a requested rotation of a user under a token; returns the new key's id.
Raises RefusedError when a safety rule forbids it (the service's own rules, as for any run)."""
ClaimSecret = Callable[[str], None]
"""Makes sure a user's secret is keyturn's before a step writes to it. Raises RefusedError
(notified) for someone else's secret."""


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


@dataclass
class SecretsManagerRotation:
    """Serves Secrets Manager's four rotation steps for keyturn's secrets."""

    secrets: Secrets
    promoter: Promoter
    reporter: Reporter
    notifier: Notifier
    clock: Clock
    stage_rotation: StageRotation
    claim: ClaimSecret
    admit: Callable[[str], None]
    """Refuses a user outside keyturn's scope (the same rule as every other door)."""
    retirement_of: Callable[[str, str | None, datetime], notices.Schedule]
    """When a user's replaced key (by id) is deactivated and deleted, as of a moment."""
    include_secret: bool = False

    def run_step(self, event: RotationEvent) -> StepOutcome:
        """Serve one step of a Secrets Manager rotation.

        Raises:
            RefusedError: the secret is not keyturn's, the rotation was abandoned, or a safety
                rule forbids it; VerificationError: the new key never authenticated (it was
                removed); PartialRotationError / AwsError: a call failed.
        """
        user_name = self.secrets.find_user(event.secret_id)
        if event.step is not Step.CREATE:  # createSecret's staging admits the user itself
            self.admit(user_name)
        if event.step in {Step.TEST, Step.FINISH}:  # createSecret claims as any rotation does
            self.claim(user_name)
        match event.step:
            case Step.CREATE:
                return self._create(user_name, event.token)
            case Step.SET:
                return StepOutcome(event.step, user_name, None, "nothing-to-set")
            case Step.TEST:
                return self._test(user_name, event.token)
            case Step.FINISH:
                return self._finish(user_name, event.token)

    def _create(self, user_name: str, token: str) -> StepOutcome:
        existing = self._version(user_name, token, require_pending=False)
        if existing is not None:
            return StepOutcome(Step.CREATE, user_name, existing.key.key_id, "already-created")
        created = self.stage_rotation(user_name, token)
        return StepOutcome(Step.CREATE, user_name, created, "created")

    def _test(self, user_name: str, token: str) -> StepOutcome:
        version = self._version(user_name, token, require_pending=True)
        if version is None or CURRENT in version.stages:
            key_id = version.key.key_id if version else None
            return StepOutcome(Step.TEST, user_name, key_id, "already-current")
        self._prove(user_name, version)
        return StepOutcome(Step.TEST, user_name, version.key.key_id, "verified")

    def _finish(self, user_name: str, token: str) -> StepOutcome:
        version = self._version(user_name, token, require_pending=True)
        if version is None or CURRENT in version.stages:
            key_id = version.key.key_id if version else None
            return StepOutcome(Step.FINISH, user_name, key_id, "already-current")
        state = self.secrets.read_state(user_name)
        if state is None or state.verified_key_id != version.key.key_id:
            self._prove(user_name, version)
        ref = self.promoter.promote(user_name, token)
        key = version.key
        self.reporter.audit(user_name, "create", key.key_id, "secrets-manager-rotation", None)
        schedule = self.retirement_of(user_name, version.previous_key_id, self.clock.now())
        self.notifier.publish(
            notices.rotated(
                NewKey(user_name, key.key_id, key.secret, key.created),
                version.previous_key_id,
                ref,
                schedule,
                include_secret=self.include_secret,
            )
        )
        return StepOutcome(Step.FINISH, user_name, key.key_id, "promoted")

    def _version(
        self, user_name: str, token: str, *, require_pending: bool
    ) -> StagedVersion | None:
        """The token's version; refuses an abandoned one (value stored, no label left)."""
        version = self.secrets.version(user_name, token)
        if version is None:
            if require_pending:
                reason = f"rotation {token} has no staged key (createSecret?)"
                raise self.reporter.refuse(user_name, reason)
            return None
        if not version.stages & {PENDING, CURRENT}:
            reason = f"rotation {token} was abandoned and its key removed; start a new rotation"
            raise self.reporter.refuse(user_name, reason)
        return version

    def _prove(self, user_name: str, version: StagedVersion) -> None:
        key_id = version.key.key_id
        try:
            self.promoter.verify(user_name, version.key, self.clock.now())
        except VerificationError as exc:
            self.promoter.discard(user_name, key_id, version.version_id)
            self.reporter.audit(user_name, "verify", key_id, "secrets-manager-test", exc)
            self.reporter.failed(user_name, exc)
            raise
        self.reporter.audit(user_name, "verify", key_id, "secrets-manager-test", None)
