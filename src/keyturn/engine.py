"""The service both edges call: scan, plan, run, rotate and restore, through the ports.

The planner decides; :class:`~keyturn.execution.Executor` acts; this module reads the world,
chooses the policy for each user, records one audit event per action and turns failures into
results. It never imports boto3.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from keyturn import notifications
from keyturn.core.actions import Snapshot, apply
from keyturn.core.models import StoredState, User
from keyturn.core.planner import Plan, plan
from keyturn.core.policy import Policy
from keyturn.errors import (
    AwsError,
    ConfigurationError,
    KeyturnError,
    PartialRotationError,
    RefusedError,
)
from keyturn.execution import Context, Executor
from keyturn.ports import Clock, KeyStore, KeyVerifier, Notifier, SecretStore, UserDirectory
from keyturn.promotion import Promoter
from keyturn.restore import restore as restore_previous
from keyturn.results import RunResult, Status, StepDone, UserResult
from keyturn.settings import Settings
from keyturn.verification import Prover

log = logging.getLogger(__name__)
AWS_CALLS_ALLOWANCE_SECONDS = 30.0
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
audit_log = logging.getLogger("keyturn.audit")


@dataclass(frozen=True)
class Inspection:
    """A user's world as read now, and the plan for it."""

    user: User
    policy: Policy
    snapshot: Snapshot
    plan: Plan


@dataclass
class Rotator:
    """Applies keyturn's policy to IAM users through the ports."""

    directory: UserDirectory
    keys: KeyStore
    secrets: SecretStore
    notifier: Notifier
    clock: Clock
    settings: Settings = field(default_factory=Settings)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    verifier: KeyVerifier | None = None
    """Proves new keys before promotion; None (simulations only) records them as verified."""
    sleep: Callable[[float], None] | None = None
    """The pause between verification probes; required with a verifier."""

    def __post_init__(self) -> None:
        prover = None
        if self.verifier is not None:
            if self.sleep is None:
                raise ConfigurationError("a key verifier needs a sleeper")
            prover = Prover(self.verifier, self.clock, self.sleep, self.settings.verification)
        self.executor = Executor(
            self.keys,
            self.secrets,
            self.notifier,
            self.settings.notify_include_secret,
            Promoter(self.keys, self.secrets, prover),
        )

    # Reading -------------------------------------------------------------------------------

    def inspect(
        self,
        user: User,
        *,
        at: datetime | None = None,
        force: bool = False,
        policy: Policy | None = None,
        make_room: bool = False,
    ) -> Inspection:
        """Read ``user``'s keys and stored state and plan for them; changes nothing."""
        policy = policy or self.settings.policy.for_user(user.name, user.tags)
        keys = tuple(self.keys.list_keys(user.name))
        snapshot = Snapshot(keys, self.secrets.read_state(user.name) or StoredState())
        now = at or self.clock.now()
        found = plan(user, keys, snapshot.state, policy, now, force=force, make_room=make_room)
        return Inspection(user, policy, snapshot, found)

    def plan_all(self, *, at: datetime | None = None) -> RunResult:
        """What a run would do to every user; changes nothing."""
        now = at or self.clock.now()
        results = [self._planned(user, now) for user in self.directory.list_users()]
        return RunResult(self.run_id, now, tuple(results))

    def _planned(self, user: User, now: datetime) -> UserResult:
        managed = self.settings.scope.manages(user)
        try:
            found = self.inspect(user, at=now)
        except ConfigurationError as exc:
            return UserResult(user.name, Status.REFUSED, Plan(user.name), message=str(exc))
        except AwsError as exc:
            if managed or exc.code not in ACCESS_DENIED:
                raise
            return _not_inspected(user, exc.code)
        status = _planned_status(found, managed=managed)
        return UserResult(user.name, status, found.plan, found.snapshot.keys)

    # Changing ------------------------------------------------------------------------------

    def run(self, *, seconds_left: Callable[[], float] | None = None) -> RunResult:
        """Apply the policy to every managed user; others are only reported.

        Parameters:
            seconds_left: how long the caller may still run (Lambda's remaining time). A user
                is started only while more than one worst-case rotation remains; the rest are
                reported as deferred and handled by the next run, never cut off mid-rotation.
        """
        now = self.clock.now()
        reserve = self.worst_case_seconds()
        results = []
        for user in self.directory.list_users():
            if not self.settings.scope.manages(user):
                results.append(_not_inspected(user, "outside keyturn's scope"))
            elif seconds_left is not None and seconds_left() < reserve:
                results.append(_deferred(user))
            else:
                results.append(self._run_user(user, now))
        return RunResult(self.run_id, now, tuple(results))

    def worst_case_seconds(self) -> float:
        """An upper bound for one user's run: the verification budget plus the AWS calls."""
        return self.settings.verification.budget.total_seconds() + AWS_CALLS_ALLOWANCE_SECONDS

    def _run_user(self, user: User, now: datetime) -> UserResult:
        try:
            policy = self.settings.policy.for_user(user.name, user.tags)
        except ConfigurationError as exc:
            self._refuse(user.name, str(exc))
            return UserResult(user.name, Status.REFUSED, Plan(user.name), message=str(exc))
        try:
            return self.apply_plan(self.inspect(user, at=now, policy=policy), now)
        except RefusedError as exc:
            return UserResult(user.name, Status.REFUSED, Plan(user.name), message=exc.reason)
        except KeyturnError as exc:
            return UserResult(
                user.name, Status.FAILED, Plan(user.name), message=str(exc), error=exc
            )

    def rotate(
        self,
        user_name: str,
        *,
        grace_days: int | None = None,
        delete_after_days: int | None = None,
    ) -> UserResult:
        """Rotate one user now (the original recipe's event).

        ``grace_days=0`` without ``delete_after_days`` is the original recipe's immediate
        replacement: the old key is deactivated and deleted as soon as the new one is stored.

        Raises:
            UserNotFoundError, RefusedError, PartialRotationError.
        """
        user = self.directory.get_user(user_name)
        try:
            policy = self.settings.policy.for_user(user.name, user.tags)
        except ConfigurationError as exc:
            raise self._refuse(user.name, str(exc)) from None
        if policy.exempt:
            raise self._refuse(user.name, "the user is exempt (tag keyturn:exempt=true)")
        if grace_days == 0 and delete_after_days is None:
            delete_after_days = 0
        policy = policy.with_overrides(grace_days=grace_days, delete_after_days=delete_after_days)
        now = self.clock.now()
        return self.apply_plan(self.inspect(user, at=now, force=True, policy=policy), now)

    def restore(self, user_name: str) -> UserResult:
        """Make the previous key current again while it still exists (the undo button).

        Raises:
            UserNotFoundError, RefusedError (nothing to restore), AwsError.
        """
        user = self.directory.get_user(user_name)
        now = self.clock.now()
        found = self.inspect(user, at=now, policy=self.settings.policy)
        ctx = Context(user, now, found.policy, found.snapshot.state, self.secrets.locate(user.name))
        try:
            step = restore_previous(self.executor, ctx, found.snapshot)
        except RefusedError as exc:
            raise self._refuse(user.name, exc.reason) from exc
        except KeyturnError as exc:
            self.audit(user.name, "restore", None, "requested", exc)
            self._notify_failure(user.name, exc)
            raise
        self.audit(user.name, "restore", step.key_id, "requested", None)
        keys = tuple(self.keys.list_keys(user.name))
        return UserResult(user.name, Status.CHANGED, found.plan, keys, (step,))

    # Internals -----------------------------------------------------------------------------

    def apply_plan(
        self, found: Inspection, now: datetime, *, staging_token: str | None = None
    ) -> UserResult:
        """Carry out an inspection's plan, one audited action at a time.

        With ``staging_token`` (Secrets Manager's createSecret) a creation is only staged.

        Raises:
            RefusedError, PartialRotationError.
        """
        user, current_plan = found.user, found.plan
        if current_plan.refusal is not None:
            raise self._refuse(user.name, current_plan.refusal)
        ctx = Context(user, now, found.policy, found.snapshot.state, self.secrets.locate(user.name))
        snapshot, done = found.snapshot, list[StepDone]()
        for action in current_plan.actions:
            try:
                step = self.executor.perform(ctx, action, staging_token=staging_token)
            except KeyturnError as exc:
                self.audit(user.name, action.kind.value, action.key_id, action.reason.value, exc)
                if isinstance(exc, RefusedError):
                    raise self._refuse(user.name, exc.reason) from exc
                self._notify_failure(user.name, exc)
                raise PartialRotationError(user.name, [d.describe() for d in done], exc) from exc
            done.append(step)
            extra = _step_facts(step)
            self.audit(user.name, action.kind.value, step.key_id, action.reason.value, None, extra)
            snapshot = apply(snapshot, action, now, step.key_id or "")
            ctx = Context(user, now, found.policy, snapshot.state, ctx.secret)
        keys = tuple(self.keys.list_keys(user.name)) if done else found.snapshot.keys
        status = Status.CHANGED if done else Status.UNCHANGED
        if found.policy.exempt:
            status = Status.EXEMPT
        message = "; ".join(current_plan.notes)
        return UserResult(user.name, status, current_plan, keys, tuple(done), message)

    def _refuse(self, user_name: str, reason: str) -> RefusedError:
        self.audit(user_name, "refuse", None, reason, None)
        self.notifier.publish(
            notifications.refused(user_name, reason, self.secrets.locate(user_name))
        )
        return RefusedError(user_name, reason)

    def _notify_failure(self, user_name: str, exc: KeyturnError) -> None:
        try:
            ref = self.secrets.locate(user_name)
            self.notifier.publish(notifications.failed(user_name, str(exc), ref))
        except KeyturnError:
            log.exception("could not send the failure notice for %s", user_name)

    def refuse(self, user_name: str, reason: str) -> RefusedError:
        """Audit and announce a refusal; returns the error to raise."""
        return self._refuse(user_name, reason)

    def notify_failure(self, user_name: str, exc: KeyturnError) -> None:
        self._notify_failure(user_name, exc)

    def audit(
        self,
        user_name: str,
        action: str,
        key_id: str | None,
        reason: str,
        error: KeyturnError | None,
        extra: dict[str, object] | None = None,
    ) -> None:
        """One structured audit event on the ``keyturn.audit`` logger."""
        event: dict[str, object] = {
            "run_id": self.run_id,
            "user": user_name,
            "key_id": key_id,
            "action": action,
            "reason": reason,
            "outcome": "failed" if error else "done",
        }
        if error is not None:
            event["error"] = type(error).__name__
        event.update(extra or {})
        audit_log.info("keyturn %s %s: %s", action, user_name, event["outcome"], extra=event)


def _step_facts(step: StepDone) -> dict[str, object]:
    days = step.two_keys_active_days
    return {} if days is None else {"two_keys_active_days": days}


def _deferred(user: User) -> UserResult:
    message = "deferred to the next run: this invocation's time was nearly up"
    return UserResult(user.name, Status.DEFERRED, Plan(user.name), message=message)


def _not_inspected(user: User, why: str) -> UserResult:
    """An unmanaged user reported without reading its keys: a scoped role may not."""
    return UserResult(user.name, Status.UNMANAGED, Plan(user.name), message=f"not inspected: {why}")


def _planned_status(found: Inspection, *, managed: bool) -> Status:
    if not managed:
        return Status.UNMANAGED
    if found.policy.exempt:
        return Status.EXEMPT
    if found.plan.refusal is not None:
        return Status.REFUSED
    return Status.PLANNED if found.plan.actions else Status.UNCHANGED
