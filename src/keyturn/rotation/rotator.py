"""The service both edges call: scan, plan, run, retire, rotate and restore, through the ports.

The planner decides; :class:`~keyturn.rotation.executor.Executor` acts; this module reads the
world, chooses the policy for each user, records one audit event per action and turns failures
into results. Restore and Secrets Manager's rotation protocol are parts of the service built
here with explicit dependencies. It never imports boto3.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from keyturn.core import last_use
from keyturn.core.actions import ActionKind, Snapshot, apply
from keyturn.core.delivery import Marks, SecretRef
from keyturn.core.forecast import OnboardingForecast
from keyturn.core.last_use import LastUseWanted, every_key
from keyturn.core.models import AccessKey, StoredState, User
from keyturn.core.planner import plan
from keyturn.core.policy import Policy
from keyturn.core.retire import retire_plan, stale_grace_mark
from keyturn.core.rollout import Mode
from keyturn.core.scope import HOW_TO_CONFIGURE
from keyturn.errors import (
    AwsError,
    ConfigurationError,
    KeyturnError,
    PartialRotationError,
    RefusedError,
    UnexpectedError,
    UserNotFoundError,
)
from keyturn.rotation import audit_mode, notices, outcomes, pool
from keyturn.rotation.audit import Reporter
from keyturn.rotation.doors import Doors
from keyturn.rotation.executor import Executor, in_flight_marks
from keyturn.rotation.findings import FindingsPublisher
from keyturn.rotation.outcomes import Inspection, Seen
from keyturn.rotation.ports import (
    Clock,
    KeyStore,
    KeyVerifier,
    Notifier,
    RunDirectory,
    Secrets,
    UserDirectory,
)
from keyturn.rotation.promotion import Promoter
from keyturn.rotation.proof import Prover
from keyturn.rotation.restore import Restorer
from keyturn.rotation.results import (
    FOUND_BY_LISTING,
    RunResult,
    Status,
    StepDone,
    UserResult,
)
from keyturn.rotation.secrets_manager import RotationEvent, SecretsManagerRotation, StepOutcome
from keyturn.settings import Settings

log = logging.getLogger(__name__)
AWS_CALLS_ALLOWANCE_SECONDS = 30.0
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
Progress = Callable[[UserResult], None]
"""Told each user's result as a run or plan finishes it (the CLI's progress bar)."""


@dataclass
class Rotator(Doors):
    """Applies keyturn's policy to IAM users through the ports."""

    directory: UserDirectory
    keys: KeyStore
    secrets: Secrets
    notifier: Notifier
    clock: Clock
    settings: Settings = field(default_factory=Settings)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    verifier: KeyVerifier | None = None
    """Proves new keys before promotion; None (simulations only) records them as verified."""
    sleep: Callable[[float], None] | None = None
    """The pause between verification probes; required with a verifier."""
    findings: FindingsPublisher | None = None
    """Security Hub findings after each run (``KEYTURN_SECURITY_HUB``); the faces call it."""
    account_id: str | None = None
    """The account worked in, named by every audit event (fleet runs; None otherwise)."""
    run_directory: RunDirectory | None = None
    """Who a scheduled run looks at (the credential report's candidates); None: ``directory``."""

    def __post_init__(self) -> None:
        settings = self.settings
        self.pace = pool.Pace.of(
            settings.concurrency, settings.users_in_flight, settings.iam_writes_per_second
        )
        prover = None
        if self.verifier is not None:
            if self.sleep is None:
                raise ConfigurationError("a key verifier needs a sleeper")
            pause = partial(self.pace.slots.pause, self.sleep)  # a proof's wait is not work
            prover = Prover(self.verifier, self.clock, pause, settings.verification)
        include_secret = settings.notify_include_secret
        paced = pool.PacedKeys(self.keys, self.pace.rate)
        self._modes: dict[str, Mode] = {}
        self.reporter = Reporter(
            self.notifier,
            self.secrets,
            self.run_id,
            account_id=self.account_id,
            mode_of=self._mode_of,
        )
        self.promoter = Promoter(paced, self.secrets, prover)
        self.executor = Executor(paced, self.secrets, self.notifier, self.promoter, include_secret)
        self.restorer = Restorer(paced, self.secrets, self.promoter, self.notifier)
        self.secrets_manager = SecretsManagerRotation(
            self.secrets,
            self.promoter,
            self.reporter,
            self.notifier,
            self.clock,
            self.stage_requested,
            self._claim_named,
            self._admit_to_change,
            self.retirement_of,
            include_secret,
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
        decisive_only: bool = False,
    ) -> Inspection:
        """Read ``user``'s keys and stored state and plan for them; changes nothing. This
        starts a new look at the user: what is read here is carried through the handling.

        ``decisive_only`` (runs) reads the last use only of the keys a decision of the plan
        reads (:mod:`keyturn.core.last_use`, the same plan); the others show none. Without it
        (scans, reports) every key's last use is read, to be shown."""
        policy = policy or self.settings.policy.for_user(user.name, user.tags)
        self._fresh(user.name)
        # The state before the keys: a run racing this one may deliver a key in between, and
        # an old state with new keys plans for the old generation, whose delivery token the
        # racer already used (so this run loses the compare-and-set); new state with old keys
        # would plan a new generation's key beside the racer's ("no key": create).
        state = self.secrets.read_state(user.name) or StoredState()
        now = at or self.clock.now()
        wanted: LastUseWanted = every_key
        if decisive_only:
            wanted = last_use.for_plan(state, policy, now, force=force, make_room=make_room)
        keys = tuple(self.keys.list_keys(user.name, last_use=wanted))
        snapshot = Snapshot(keys, state)
        found = plan(user, keys, snapshot.state, policy, now, force=force, make_room=make_room)
        return Inspection(user, policy, snapshot, found)

    def plan_all(
        self,
        *,
        at: datetime | None = None,
        forecast: bool = False,
        progress: Progress | None = None,
    ) -> RunResult:
        """What a run would do to every user; changes nothing. With ``forecast``, the result
        also carries the onboarding forecast of the managed users (read once, for both).
        ``progress`` is called with each user's result as it is planned."""
        now = at or self.clock.now()
        planned = []
        for found in self._plan_each(now):
            planned.append(found)
            if progress is not None:
                progress(found[0])
        results = tuple(result for result, _ in planned)
        outlook = outcomes.forecast_of([seen for _, seen in planned], now) if forecast else None
        return RunResult(
            self.run_id, now, results, self._run_notes(), outlook, mode=self.settings.mode
        )

    def forecast(self, *, at: datetime | None = None) -> OnboardingForecast:
        """The onboarding forecast alone: what a first run at ``at`` would rotate, which keys
        are past their cap, and by when every managed key is compliant; changes nothing."""
        now = at or self.clock.now()
        return outcomes.forecast_of([seen for _, seen in self._plan_each(now)], now)

    def _plan_each(self, now: datetime) -> Iterator[tuple[UserResult, Seen]]:
        """Every user's plan, in the directory's order, up to ``KEYTURN_CONCURRENCY`` users
        read at once (each plan is only reads; a user's failure is that user's result)."""
        users = list(self.directory.list_users())
        yield from pool.in_order(users, partial(self._planned, now=now), self.settings.concurrency)

    def _planned(self, user: User, now: datetime) -> tuple[UserResult, Seen]:
        """One user's plan, and what the forecast needs of it (the user read, or why it was
        not: a managed user keyturn cannot plan is listed, never dropped; None for others).
        Whatever goes wrong with this user is this user's result."""
        managed = self.settings.scope.manages(user)
        try:
            found = self.inspect(user, at=now)
        except ConfigurationError as exc:
            refused = outcomes.refused(user, str(exc), self._keys_anyway(user))
            return refused, outcomes.no_date(user, managed, f"refused: {exc}")
        except AwsError as exc:
            if not managed and exc.code in ACCESS_DENIED:
                return outcomes.not_inspected(user, exc.code), None
            return outcomes.failed(user, exc), outcomes.no_date(
                user, managed, f"could not be read: {exc}"
            )
        except KeyturnError as exc:
            return outcomes.failed(user, exc), outcomes.no_date(
                user, managed, f"could not be read: {exc}"
            )
        except Exception as exc:
            error = self._unexpected(user, exc)
            return outcomes.failed(user, error), outcomes.no_date(
                user, managed, f"could not be read: {error}"
            )
        status = outcomes.planned_status(found, managed=managed)
        cap = found.policy.max_active_days
        result = UserResult(user.name, status, found.plan, found.snapshot.keys, max_active_days=cap)
        seen: Seen = None
        if managed:
            seen = (user, found.snapshot.keys, found.snapshot.state, found.policy)
        return result, seen

    def _keys_anyway(self, user: User) -> tuple[AccessKey, ...]:
        """The keys of a user keyturn refuses to plan for (tags or stored state it cannot use),
        so a report still counts them; none when even they cannot be read."""
        try:
            return tuple(self.keys.list_keys(user.name))
        except Exception:  # the refusal is what this user's result reports
            log.info("keys of refused user %s not read", user.name, exc_info=True)
            return ()

    # Changing ------------------------------------------------------------------------------

    def run(
        self,
        *,
        seconds_left: Callable[[], float] | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        """Apply the policy to every managed user, many at once; others are only reported.

        Users are read and planned first; the plans that create a key then start most urgent
        first (:mod:`keyturn.rotation.pool`), their proofs overlapping.

        Parameters:
            seconds_left: how long the caller may still run (Lambda's remaining time). A user
                is started only while more than one worst-case rotation remains; the rest are
                reported as deferred and handled first by the next run, never cut off
                mid-rotation.
            progress: called once with each user's result as it finishes, from the worker
                threads (so it must be thread-safe).
        """
        now = self.clock.now()
        stages = _RunStages(self, now)
        reserve = (AWS_CALLS_ALLOWANCE_SECONDS, self.worst_case_seconds())
        directory = self.run_directory or self.directory
        users = pool.pipelined(
            list(directory.list_users()),
            stages,
            self.pace,
            time_left=seconds_left,
            reserve=reserve,
            progress=progress,
        )
        deferred = sum(u.status is Status.DEFERRED for u in users)
        found_by, notes = self._found_by()
        return RunResult(
            self.run_id,
            now,
            tuple(users),
            self._run_notes() + notes,
            mode=self.settings.mode,
            found_by=found_by,
            idle_users=self.run_directory.idle if self.run_directory is not None else frozenset(),
            deferred=deferred,
        )

    def _found_by(self) -> tuple[str, tuple[str, ...]]:
        """How the last run found its users, and the note when it fell back to the listing."""
        if self.run_directory is None:
            return FOUND_BY_LISTING, ()
        note = self.run_directory.note
        return self.run_directory.found_by, (note,) if note else ()

    def retire(self) -> RunResult:
        """The light retirement pass (hourly): for the users one filtered listing finds in a
        grace period, deactivate the previous key once the consumer demonstrably switched
        (:mod:`keyturn.core.retire`). Never rotates, deletes or postpones; users outside the
        scope are reported, not inspected.
        """
        now = self.clock.now()
        results = [self._retire_user(name, now) for name in self.secrets.in_grace()]
        return RunResult(
            self.run_id, now, tuple(results), self._run_notes(), mode=self.settings.mode
        )

    def _retire_user(self, name: str, now: datetime) -> UserResult:
        """One user's retirement; whatever goes wrong is this user's result, as in a run."""
        try:
            user = self.directory.get_user(name)
        except KeyturnError as exc:
            return outcomes.failed(User(name), exc)
        if not self.settings.scope.manages(user):
            return outcomes.not_inspected(user, "outside keyturn's scope")
        try:
            policy = self.settings.policy.for_user(user.name, user.tags)
            self._fresh(user.name)
            state = self.secrets.read_state(user.name)
            wanted = last_use.for_retire(state, policy, now)
            keys = tuple(self.keys.list_keys(user.name, last_use=wanted))
            if stale_grace_mark(keys, state) and self.mode_for(user) is Mode.ACT:
                self.secrets.set_marks(user.name, Marks(clear_in_grace=True))
            found = retire_plan(user, keys, state, policy, now)
            snapshot = Snapshot(keys, state or StoredState())
            return self.apply_plan(Inspection(user, policy, snapshot, found), now)
        except KeyturnError as exc:
            return self._answer(user, exc)
        except Exception as exc:
            error = self._unexpected(user, exc)
            self.reporter.failed(user.name, error)
            return outcomes.failed(user, error)

    def _fresh(self, user_name: str) -> None:
        """A new look at one user: the adapters read it again once."""
        self.keys.forget(user_name)
        self.secrets.forget(user_name)

    def worst_case_seconds(self) -> float:
        """An upper bound for one user's run: the verification budget plus the AWS calls."""
        return self.settings.verification.budget.total_seconds() + AWS_CALLS_ALLOWANCE_SECONDS

    def _read_user(self, user: User, now: datetime) -> Inspection | UserResult:
        """A run's first step for one user: read and plan (:meth:`_apply_user` carries the plan
        out). Whatever goes wrong with this user (a tag or mark keyturn cannot use, a call the
        role may not make, a surprise) is this user's refused or failed result, told to the
        owner; the run goes on with the others."""
        try:
            policy = self.settings.policy.for_user(user.name, user.tags)
            return self.inspect(user, at=now, policy=policy, decisive_only=True)
        except KeyturnError as exc:
            return self._answer(user, exc)
        except Exception as exc:
            error = self._unexpected(user, exc)
            self.reporter.failed(user.name, error)
            return outcomes.failed(user, error)

    def _apply_user(self, found: Inspection, now: datetime) -> UserResult:
        """A run's second step for one user: carry out the plan, or this user's error result."""
        try:
            return self.apply_plan(found, now)
        except KeyturnError as exc:
            return outcomes.as_read(self._answer(found.user, exc), found)
        except Exception as exc:
            error = self._unexpected(found.user, exc)
            self.reporter.failed(found.user.name, error)
            return outcomes.failed(found.user, error)

    def _remember_failure(self, user_name: str) -> None:
        """Mark a failed rotation, so the next run queues the user behind those already
        waiting (:mod:`keyturn.core.urgency`). Best effort: without the mark the order only
        falls back to the oldest key."""
        try:
            self.secrets.set_marks(user_name, Marks(rotation_failed_at=self.clock.now()))
        except KeyturnError as exc:
            log.warning("could not mark the failed rotation of %s: %s", user_name, exc)

    def _answer(self, user: User, exc: KeyturnError) -> UserResult:
        """One user's error as that user's result, told to the owner once."""
        if isinstance(exc, RefusedError):  # apply_plan told the owner
            return outcomes.refused(user, exc.reason)
        if isinstance(exc, ConfigurationError):
            self.reporter.refuse(user.name, str(exc))
            return outcomes.refused(user, str(exc))
        if isinstance(exc, AwsError) and exc.code in ACCESS_DENIED:
            reason = f"keyturn's role may not do {exc.operation} on this user ({exc.code})"
            self.reporter.refuse(user.name, reason)
            return outcomes.refused(user, reason)
        if not isinstance(exc, PartialRotationError):  # apply_plan told the owner
            self.reporter.failed(user.name, exc)
        return outcomes.failed(user, exc)

    def _unexpected(self, user: User, exc: Exception) -> UnexpectedError:
        log.exception("unexpected error for user %s", user.name)
        self.reporter.audit(
            user.name, "inspect", None, "unexpected", UnexpectedError(user.name, exc)
        )
        return UnexpectedError(user.name, exc)

    def _run_notes(self) -> tuple[str, ...]:
        notes = audit_mode.run_notes(self.settings)
        if not self.settings.scope.empty:
            return notes
        log.warning(HOW_TO_CONFIGURE)
        return (HOW_TO_CONFIGURE, *notes)

    def mode_for(self, user: User) -> Mode:
        """``user``'s mode in this run (remembered, so its audit events and notices say it)."""
        mode = self._modes[user.name] = self.settings.mode_for(user)
        return mode

    def _mode_of(self, user_name: str) -> Mode:
        return self._modes.get(user_name, self.settings.mode)

    def _named(self, user_name: str) -> User:
        """The user an explicit request names. An unknown name is audited and notified like
        a refusal (a mistyped recipe user must not fail unnoticed), then raised as such.

        Raises:
            UserNotFoundError: no IAM user has that name.
        """
        try:
            return self.directory.get_user(user_name)
        except UserNotFoundError:
            self.reporter.refuse(user_name, f"no IAM user named {user_name}")
            raise

    def _admit_to_change(self, user_name: str) -> None:
        """:meth:`admit`, and refuse a user in audit mode (a Secrets Manager rotation step)."""
        user = self.directory.get_user(user_name)
        self._admit(user)
        if self.mode_for(user) is Mode.AUDIT:
            raise audit_mode.refuse_rotation(self.reporter, user_name)

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
        user = self._named(user_name)
        self.mode_for(user)
        policy = self._changeable_policy(user)
        if grace_days == 0 and delete_after_days is None:
            delete_after_days = 0
        policy = policy.with_overrides(grace_days=grace_days, delete_after_days=delete_after_days)
        now = self.clock.now()
        found = self._inspect_or_refuse(user, at=now, force=True, policy=policy)
        return self.apply_plan(found, now)

    def restore(self, user_name: str) -> UserResult:
        """Make the previous key current again while it still exists (the undo button).

        Raises:
            UserNotFoundError, RefusedError (nothing to restore), AwsError.
        """
        user = self._named(user_name)
        mode = self.mode_for(user)
        self._admit(user)
        now = self.clock.now()
        found = self._inspect_or_refuse(user, at=now, policy=self.settings.policy)
        if mode is Mode.AUDIT:
            return audit_mode.would_restore(found, self.reporter)
        if found.snapshot.state.current_key_id is not None:  # else there is nothing to restore
            self.claim_secret(user)
        ctx = outcomes.context(found, now, self.secrets.locate(user.name))
        try:
            step = self.restorer.restore(ctx, found.snapshot)
        except RefusedError as exc:
            raise self.reporter.refuse(user.name, exc.reason) from exc
        except KeyturnError as exc:
            self.reporter.audit(user.name, "restore", None, "requested", exc)
            self.reporter.failed(user.name, exc)
            raise
        self.reporter.audit(user.name, "restore", step.key_id, "requested", None)
        keys = tuple(self.keys.list_keys(user.name, last_use=last_use.no_key))
        message = step.action.detail
        return UserResult(user.name, Status.CHANGED, found.plan, keys, (step,), message)

    def rotation_step(self, event: RotationEvent) -> StepOutcome:
        """Serve one step of Secrets Manager's rotation of a keyturn secret."""
        return self.secrets_manager.run_step(event)

    def claim_secret(self, user: User, in_flight: Marks | None = None) -> None:
        """Make sure ``user``'s secret is keyturn's before anything of the user's is changed;
        ``in_flight``: the mark of a rotation that is the plan's first action.

        Raises:
            RefusedError: someone else's secret is at keyturn's name (refusal notified).
        """
        try:
            self.secrets.claim(user.name, user.arn, in_flight)
        except RefusedError as exc:
            raise self.reporter.refuse(user.name, exc.reason) from None

    def _claim_named(self, user_name: str) -> None:
        self.claim_secret(self.directory.get_user(user_name))

    def stage_requested(self, user_name: str, token: str) -> str:
        """Stage a rotation Secrets Manager asked for (createSecret): plan it as an on-demand
        rotation that may retire a previous key nobody needs, stop at the creation, and store
        the new key as AWSPENDING under ``token``. Returns the new key's id.

        Raises:
            UserNotFoundError, RefusedError (nothing to rotate, or a safety rule forbids it).
        """
        user = self.directory.get_user(user_name)
        policy = self._changeable_policy(user)
        if self.mode_for(user) is Mode.AUDIT:
            raise audit_mode.refuse_rotation(self.reporter, user_name)
        now = self.clock.now()
        found = self._inspect_or_refuse(user, at=now, policy=policy, make_room=True)
        kinds = [a.kind for a in found.plan.actions]
        if found.plan.refusal is None and ActionKind.CREATE not in kinds:
            raise self.reporter.refuse(
                user_name, "; ".join(found.plan.notes) or "nothing to rotate"
            )
        if ActionKind.CREATE in kinds:
            # Stop at the creation: what follows it assumes the new key is current.
            upto = found.plan.actions[: kinds.index(ActionKind.CREATE) + 1]
            found = replace(found, plan=replace(found.plan, actions=upto))
        result = self.apply_plan(found, now, staging_token=token)
        return next(d.key_id or "" for d in result.done if d.action.kind is ActionKind.CREATE)

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
        mode = self.mode_for(user)
        if current_plan.refusal is not None:
            raise self.reporter.refuse(user.name, current_plan.refusal)
        if mode is Mode.AUDIT:  # nothing is written, not even the secret's claim
            if staging_token is not None:
                raise audit_mode.refuse_rotation(self.reporter, user.name)
            return audit_mode.would_do(found, self.reporter, self.notifier, self.secrets)
        if current_plan.actions:
            # before the first action, IAM ones included; a rotation's in-flight mark rides in
            # the secret's creation
            self.claim_secret(user, in_flight=_in_flight(found, now))
        ctx = outcomes.context(found, now, self.secrets.locate(user.name))
        snapshot, done, audit = found.snapshot, list[StepDone](), self.reporter.audit
        for action in current_plan.actions:
            try:
                step = self.executor.perform(ctx, action, staging_token=staging_token)
            except KeyturnError as exc:
                audit(user.name, action.kind.value, action.key_id, action.reason.value, exc)
                if isinstance(exc, RefusedError):
                    raise self.reporter.refuse(user.name, exc.reason) from exc
                self.reporter.failed(user.name, exc)
                raise PartialRotationError(user.name, [d.describe() for d in done], exc) from exc
            done.append(step)
            extra = outcomes.step_facts(step)
            audit(user.name, action.kind.value, step.key_id, action.reason.value, None, extra)
            snapshot = apply(snapshot, action, now, step.key_id or "")
            ctx = outcomes.context(replace(found, snapshot=snapshot), now, ctx.secret)
        if done:  # what the changes left; last uses as read for the plan
            keys = tuple(self.keys.list_keys(user.name, last_use=last_use.no_key))
        else:
            keys = found.snapshot.keys
        status = Status.CHANGED if done else Status.UNCHANGED
        if found.policy.exempt:
            status = Status.EXEMPT
        message = "; ".join(current_plan.notes)
        cap = found.policy.max_active_days
        return UserResult(
            user.name, status, current_plan, keys, tuple(done), message, max_active_days=cap
        )

    def retirement_of(
        self, user_name: str, previous_key_id: str | None, now: datetime
    ) -> notices.Schedule:
        """When ``user_name``'s replaced key goes, as the planner dates it from the stored state
        (what the rotation notice promises)."""
        if previous_key_id is None:
            return None, None
        user = self.directory.get_user(user_name)
        policy = self.settings.policy.for_user(user.name, user.tags)
        state = self.secrets.read_state(user_name) or StoredState()
        keys = self.keys.list_keys(user_name, last_use=last_use.no_key)
        previous = next((k for k in keys if k.key_id == previous_key_id), None)
        return notices.previous_key_schedule(previous, state, policy, now)


def _in_flight(found: Inspection, now: datetime) -> Marks | None:
    """The in-flight mark the plan's first action writes, if it is a CREATE."""
    actions = found.plan.actions
    if not actions or actions[0].kind is not ActionKind.CREATE:
        return None
    return in_flight_marks(outcomes.context(found, now, SecretRef("", "")))


@dataclass(frozen=True)
class _RunStages:
    """A run's view of the service for :func:`keyturn.rotation.pool.pipelined`."""

    rotator: Rotator
    now: datetime

    def manages(self, user: User) -> bool:
        return self.rotator.settings.scope.manages(user)

    def unmanaged(self, user: User) -> UserResult:
        return outcomes.not_inspected(user, "outside keyturn's scope")

    def read(self, user: User) -> UserResult | Inspection:
        mode = self.rotator.mode_for(user)  # remembered: the user's events and notices say it
        found = self.rotator._read_user(user, self.now)
        if isinstance(found, UserResult):
            return replace(found, mode=mode)
        if outcomes.creates_key(found):
            return found
        return replace(self.rotator._apply_user(found, self.now), mode=mode)

    def rotate(self, found: Inspection) -> UserResult:
        mode = self.rotator.mode_for(found.user)
        result = self.rotator._apply_user(found, self.now)
        if result.status is Status.FAILED and mode is Mode.ACT:
            self.rotator._remember_failure(found.user.name)
        return replace(result, mode=mode)

    def deferred(self, user: User) -> UserResult:
        return outcomes.deferred(user)
