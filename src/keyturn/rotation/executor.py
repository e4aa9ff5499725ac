"""Carrying out one planned action through the ports, crash-safely.

The order of every step is chosen so that a crash between any two calls leaves a state the
planner recognises and repairs on the next run:

* CREATE marks the secret "in flight", creates the key, stages it as AWSPENDING, proves it
  authenticates and only then promotes it to AWSCURRENT (which clears the mark); see
  :mod:`keyturn.rotation.promotion`. If staging fails, the store is read back; only if the key
  did not land is it removed at once. A key that never authenticates is removed and reported. A
  crash in between leaves an undelivered key that the next run removes.
* DEACTIVATE changes IAM first, then notifies, then records the time (a missing record is
  repaired, with the notice again).
* WARN, POSTPONE and RECORD_DEACTIVATION notify first, then record (a crash repeats the notice
  rather than lose it).

Every deactivation is announced with the run that deletes the key (``deactivated``'s
``DeleteAt``), and its record says so (``told:``). A deletion on exactly that run is not mailed
again: its ``deleted`` notice is ``announced`` (EventBridge and the audit log still have it).
Every other deletion is mailed: an undelivered key's, a make-room one, a late one, one whose
deactivation an older keyturn recorded without telling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from keyturn.core import lead, usage
from keyturn.core.actions import Action, ActionKind, Reason
from keyturn.core.codec import delivery_token
from keyturn.core.delivery import Delivery, Marks, SecretRef, StoredKey
from keyturn.core.models import KeyStatus, StoredState, User
from keyturn.core.policy import TAG_OWNER, Policy
from keyturn.core.roles import deletion_run
from keyturn.core.schedule import deletion_announced
from keyturn.errors import (
    AwsError,
    ConcurrentDeliveryError,
    DeliveryError,
    RefusedError,
    VerificationError,
)
from keyturn.rotation import notices
from keyturn.rotation.ports import KeyStore, Notification, Notifier, Secrets
from keyturn.rotation.promotion import Promoter
from keyturn.rotation.results import StepDone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What one user's actions share: who, when, which policy, what was stored before."""

    user: User
    now: datetime
    policy: Policy
    state: StoredState | None
    secret: SecretRef
    key_ids: tuple[str, ...] = ()
    """The user's keys as the plan has them before this action."""
    active_key_ids: tuple[str, ...] = ()
    """Those of them that are active."""


@dataclass
class Executor:
    """Performs planned actions against the key store, the secret store and the notifier."""

    keys: KeyStore
    secrets: Secrets
    notifier: Notifier
    promoter: Promoter
    """Stages, proves and promotes keys."""
    include_secret: bool = False

    def perform(
        self, ctx: Context, action: Action, *, staging_token: str | None = None
    ) -> StepDone:
        """Carry out ``action``. With ``staging_token`` (Secrets Manager's createSecret), a
        CREATE only stages the new key as AWSPENDING under that token."""
        match action.kind:
            case ActionKind.CREATE:
                return StepDone(action, self._create(ctx, action, staging_token))
            case ActionKind.DEACTIVATE:
                return StepDone(action, action.key_id, self._deactivate(ctx, action))
            case ActionKind.DELETE:
                self._delete(ctx, action)
            case ActionKind.WARN:
                self._warn(ctx, action)
            case ActionKind.POSTPONE:
                self._postpone(ctx, action)
            case ActionKind.RECORD_DEACTIVATION:
                self._record_deactivation(ctx, action)
            case ActionKind.RECORD_SWITCH:
                self._record_switch(ctx, action)
            case ActionKind.CLEAR_PENDING:
                self._mark(ctx, _cleared_marks(ctx, action))
        return StepDone(action, action.key_id)

    def _create(self, ctx: Context, action: Action, staging_token: str | None) -> str:
        name = ctx.user.name
        # on a first rotation the claim created the secret with this mark: it costs nothing
        self.secrets.set_marks(name, in_flight_marks(ctx))
        try:
            new_key = self.keys.create_key(name)
        except AwsError as exc:
            self.secrets.set_marks(name, Marks(clear_pending=True))
            if exc.code == "LimitExceeded":
                raise RefusedError(name, "IAM already holds two keys (another run?)") from exc
            raise
        delivery = Delivery(
            new_key,
            ctx.now,
            action.key_id,
            action.grace_days,
            action.delete_after_days,
            staging_token or delivery_token(name, ctx.state),
            ctx.user.arn,
            ctx.policy.ses_smtp_region,
        )
        delivery = self._stage(delivery, ctx.state, fixed=staging_token is not None)
        if staging_token is not None:
            return new_key.key_id
        stored = StoredKey(new_key.key_id, new_key.secret, new_key.created)
        try:
            marks = self.promoter.proof(name, stored, ctx.now)
        except VerificationError:
            self.promoter.discard(name, new_key.key_id, delivery.token)
            raise
        if action.key_id is not None and action.key_id in ctx.active_key_ids:
            # the hourly retirement pass lists the secrets carrying this tag; written with the
            # proof once the stage moved (after a crash between, the next run writes it back)
            marks = replace(marks, in_grace=action.key_id)
        ref = self.promoter.promote(name, delivery.token, marks)
        self._announce(ctx, delivery, ref, action.due)
        return new_key.key_id

    def _stage(self, delivery: Delivery, state: StoredState | None, *, fixed: bool) -> Delivery:
        new_key = delivery.key
        try:
            if fixed:
                self.secrets.stage(delivery)
                return delivery
            return self.promoter.stage_next(delivery, state)
        except AwsError as exc:
            if not isinstance(exc, ConcurrentDeliveryError) and self.promoter.landed(delivery):
                log.warning("secret write reported %s but landed; keeping the new key", exc.code)
                return delivery
            self.promoter.discard(new_key.user_name, new_key.key_id, None)
            if isinstance(exc, ConcurrentDeliveryError):
                reason = "another run rotated at the same time"
                raise RefusedError(new_key.user_name, reason) from exc
            raise DeliveryError(exc.operation, exc.code, "new key removed again") from exc

    def _announce(
        self, ctx: Context, delivery: Delivery, ref: SecretRef, due: datetime | None
    ) -> None:
        """Tell the owner a new key is AWSCURRENT (a pointer, not the secret), and the exact run
        on which the replaced key goes: ``due``, the planner's date (grace or cap)."""
        schedule = notices.retirement_schedule(
            due if delivery.previous_key_id else None,
            delivery.delete_after_days,
            ctx.policy.clock,
        )
        if self.include_secret:
            log.warning("KEYTURN_NOTIFY_INCLUDE_SECRET is on: the notification carries the secret")
        self.notifier.publish(
            notices.rotated(
                delivery.key,
                delivery.previous_key_id,
                ref,
                schedule,
                include_secret=self.include_secret,
            )
        )

    def _deactivate(self, ctx: Context, action: Action) -> float | None:
        key_id = _key(action)
        if action.reason is Reason.UNDELIVERED:
            self.promoter.discard_stage(ctx.user.name, key_id)
        self.keys.set_key_status(ctx.user.name, key_id, KeyStatus.INACTIVE)
        if action.reason is Reason.UNDELIVERED:
            return None
        state = ctx.state or StoredState()
        days = usage.two_keys_days(state, ctx.now) if key_id == state.previous_key_id else None
        # notice first: a crash before the record repeats it (RECORD_DEACTIVATION), never
        # leaves a deletion announced that nobody was told of
        self.notifier.publish(_deactivated_notice(ctx, action, days))
        self._mark(ctx, _deactivation_marks(ctx, key_id, action.switch_days))
        return days

    def _record_deactivation(self, ctx: Context, action: Action) -> None:
        """A previous key found inactive: tell the owner when it is deleted, then record it."""
        self.notifier.publish(_deactivated_notice(ctx, action, None))
        self._mark(ctx, _deactivation_marks(ctx, _key(action)))

    def _delete(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        if action.reason is Reason.UNDELIVERED:
            self.promoter.discard_stage(ctx.user.name, key_id)
        self.keys.delete_key(ctx.user.name, key_id)
        state = ctx.state or StoredState()
        announced = action.reason is Reason.RESTORE_WINDOW_ELAPSED and deletion_announced(
            state, key_id, ctx.policy, ctx.now
        )
        message = notices.deleted(
            ctx.user.name, key_id, action.reason.value, ctx.secret, announced=announced
        )
        self.notifier.publish(message)

    def _warn(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        self.notifier.publish(
            notices.deactivation_coming(ctx.user.name, key_id, action.due, ctx.secret)
        )
        self._mark(ctx, Marks(warned_key_id=key_id))

    def _postpone(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        owner = ctx.user.tags.get(TAG_OWNER)
        message = notices.postponed(
            ctx.user.name, key_id, action.detail, action.due, ctx.secret, owner=owner
        )
        self.notifier.publish(message)
        self._mark(ctx, Marks(postponed=(key_id, ctx.now)))

    def _record_switch(self, ctx: Context, action: Action) -> None:
        days = action.switch_days
        if days is None:
            return
        state = ctx.state or StoredState()
        self._mark(ctx, Marks(switch=(_key(action), lead.remember(state.switch_days, days))))

    def _mark(self, ctx: Context, marks: Marks) -> None:
        self.secrets.set_marks(ctx.user.name, marks)


def in_flight_marks(ctx: Context) -> Marks:
    """The in-flight mark a CREATE writes before ``CreateAccessKey``: the moment and the keys
    the user holds, so that only a key created after it can count as keyturn's."""
    return Marks(pending_since=ctx.now, keys_before=ctx.key_ids)


def _deactivation_marks(ctx: Context, key_id: str, switch_days: float | None = None) -> Marks:
    """Record the deactivation (and the consumer's switch delay, if it switched); a key no
    longer in its grace period leaves the hourly pass."""
    state = ctx.state or StoredState()
    switch = None
    if switch_days is not None and state.current_key_id is not None:
        switch = (state.current_key_id, lead.remember(state.switch_days, switch_days))
    in_grace = state.in_grace_key_id == key_id
    return Marks(deactivated=(key_id, ctx.now), clear_in_grace=in_grace, switch=switch)


def _cleared_marks(ctx: Context, action: Action) -> Marks:
    """Empty a stale in-flight mark; for a delivered key whose promotion marks were lost,
    write them again: the proof's bound and, if its predecessor is still active, in-grace."""
    if action.key_id is None or action.due is None:
        return Marks(clear_pending=True)
    previous = ctx.state.previous_key_id if ctx.state else None
    state = ctx.state or StoredState()
    in_grace = previous if previous in ctx.active_key_ids and not state.in_grace_key_id else None
    return Marks(clear_pending=True, verified=(action.key_id, action.due), in_grace=in_grace)


def _deactivated_notice(ctx: Context, action: Action, two_keys_days: float | None) -> Notification:
    """The ``deactivated`` notice, with the run that deletes the key (its only announcement)."""
    state = ctx.state or StoredState()
    return notices.deactivated(
        ctx.user.name,
        _key(action),
        deletion_run(state, ctx.policy, ctx.now, ctx.now),
        ctx.secret,
        reason=action.reason.value,
        two_keys_days=two_keys_days,
        owner=ctx.user.tags.get(TAG_OWNER),
    )


def _key(action: Action) -> str:
    if action.key_id is None:
        raise ValueError(f"{action.kind.value} needs a key id")
    return action.key_id
