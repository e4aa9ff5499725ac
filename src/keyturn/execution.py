"""Carrying out one planned action through the ports, crash-safely.

The order of every step is chosen so that a crash between any two calls leaves a state the
planner recognises and repairs on the next run:

* CREATE marks the secret "in flight", creates the key, stores it as AWSCURRENT (which clears
  the mark). If storing fails, the store is read back; only if the new key is not current is the
  new key deactivated and deleted at once. A crash in between leaves an undelivered key that the
  next run removes.
* DEACTIVATE changes IAM first, then records the time (a missing record is repaired).
* WARN notifies first, then records (a crash repeats the notice rather than losing it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn import notifications
from keyturn.core.actions import Action, ActionKind, Reason, Snapshot
from keyturn.core.models import KeyStatus, NewKey, StoredState, User
from keyturn.core.policy import Policy
from keyturn.errors import AwsError, ConcurrentDeliveryError, DeliveryError, RefusedError
from keyturn.ports import Delivery, KeyStore, Marks, Notifier, SecretRef, SecretStore
from keyturn.results import StepDone
from keyturn.state_codec import delivery_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What one user's actions share: who, when, which policy, what was stored before."""

    user: User
    now: datetime
    policy: Policy
    state: StoredState | None
    secret: SecretRef


@dataclass
class Executor:
    """Performs planned actions against the key store, the secret store and the notifier."""

    keys: KeyStore
    secrets: SecretStore
    notifier: Notifier
    include_secret: bool = False

    def perform(self, ctx: Context, action: Action) -> StepDone:
        match action.kind:
            case ActionKind.CREATE:
                return StepDone(action, self._create(ctx, action))
            case ActionKind.DEACTIVATE:
                self._deactivate(ctx, action)
            case ActionKind.DELETE:
                self._delete(ctx, action)
            case ActionKind.WARN:
                self._warn(ctx, action)
            case ActionKind.RECORD_DEACTIVATION:
                self._mark(ctx, Marks(deactivated=(_key(action), ctx.now)))
            case ActionKind.CLEAR_PENDING:
                self._mark(ctx, Marks(clear_pending=True))
        return StepDone(action, action.key_id)

    def _create(self, ctx: Context, action: Action) -> str:
        name = ctx.user.name
        self.secrets.set_marks(name, Marks(pending_since=ctx.now))
        try:
            new_key = self.keys.create_key(name)
        except AwsError as exc:
            self.secrets.set_marks(name, Marks(clear_pending=True))
            if exc.code == "LimitExceeded":
                raise RefusedError(name, "IAM already holds two keys (another run?)") from exc
            raise
        token = delivery_token(name, ctx.state)
        delivery = Delivery(
            new_key,
            ctx.now,
            action.key_id,
            action.grace_days,
            action.delete_after_days,
            token,
            ctx.user.arn,
        )
        ref = self._deliver(ctx, delivery)
        self._announce(ctx, delivery, ref)
        return new_key.key_id

    def _deliver(self, ctx: Context, delivery: Delivery) -> SecretRef:
        new_key = delivery.key
        try:
            return self.secrets.deliver(delivery)
        except AwsError as exc:
            if self._landed(new_key):
                log.warning("secret write reported %s but landed; keeping the new key", exc.code)
                return ctx.secret
            self._discard(new_key)
            if isinstance(exc, ConcurrentDeliveryError):
                reason = "another run rotated at the same time"
                raise RefusedError(new_key.user_name, reason) from exc
            raise DeliveryError(exc.operation, exc.code, "new key removed again") from exc

    def _landed(self, new_key: NewKey) -> bool:
        try:
            state = self.secrets.read_state(new_key.user_name)
        except AwsError:
            return False
        return state is not None and state.current_key_id == new_key.key_id

    def _discard(self, new_key: NewKey) -> None:
        """Remove a key whose secret was not stored: nobody can hold it."""
        name = new_key.user_name
        self.keys.set_key_status(name, new_key.key_id, KeyStatus.INACTIVE)
        self.keys.delete_key(name, new_key.key_id)
        self.secrets.set_marks(name, Marks(clear_pending=True))

    def _announce(self, ctx: Context, delivery: Delivery, ref: SecretRef) -> None:
        deactivate_at = ctx.now + timedelta(days=delivery.grace_days)
        delete_at = deactivate_at + timedelta(days=delivery.delete_after_days)
        previous = delivery.previous_key_id
        schedule = (deactivate_at, delete_at) if previous else (None, None)
        if self.include_secret:
            log.warning("KEYTURN_NOTIFY_INCLUDE_SECRET is on: the notification carries the secret")
        self.notifier.publish(
            notifications.rotated(
                delivery.key, previous, ref, schedule, include_secret=self.include_secret
            )
        )

    def _deactivate(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        self.keys.set_key_status(ctx.user.name, key_id, KeyStatus.INACTIVE)
        if action.reason is Reason.UNDELIVERED:
            return
        self._mark(ctx, Marks(deactivated=(key_id, ctx.now)))
        delete_at = ctx.now + timedelta(days=_delete_after(ctx))
        message = notifications.deactivated(ctx.user.name, key_id, delete_at, ctx.secret)
        self.notifier.publish(message)

    def _delete(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        self.keys.delete_key(ctx.user.name, key_id)
        message = notifications.deleted(ctx.user.name, key_id, action.reason.value, ctx.secret)
        self.notifier.publish(message)

    def _warn(self, ctx: Context, action: Action) -> None:
        key_id = _key(action)
        self.notifier.publish(
            notifications.deactivation_coming(ctx.user.name, key_id, action.due, ctx.secret)
        )
        self._mark(ctx, Marks(warned_key_id=key_id))

    def restore(self, ctx: Context, snapshot: Snapshot) -> StepDone:
        """Re-activate the previous key and make it AWSCURRENT again; the current key becomes
        the previous one, retired on the usual schedule."""
        name, state = ctx.user.name, snapshot.state
        previous = snapshot.key(state.previous_key_id)
        if state.current_key_id is None or previous is None:
            raise RefusedError(name, "no previous key to restore (never rotated, or deleted)")
        stored = self.secrets.read_previous(name)
        if stored is None or stored.key_id != previous.key_id:
            reason = (
                f"keyturn never held the secret of {previous.key_id} (it predates keyturn), so it "
                "cannot become AWSCURRENT; re-activate it with aws iam update-access-key if needed"
            )
            raise RefusedError(name, reason)
        if not previous.active:
            self.keys.set_key_status(name, previous.key_id, KeyStatus.ACTIVE)
        key = NewKey(name, stored.key_id, stored.secret, stored.created)
        policy = ctx.policy
        delivery = Delivery(
            key,
            ctx.now,
            state.current_key_id,
            policy.grace_days,
            policy.delete_after_days,
            delivery_token(name, state),
            ctx.user.arn,
        )
        ref = self.secrets.deliver(delivery)
        message = notifications.restored(name, previous.key_id, state.current_key_id, ref)
        self.notifier.publish(message)
        return StepDone(
            Action(ActionKind.CREATE, Reason.RESTORED, state.current_key_id), key.key_id
        )

    def _mark(self, ctx: Context, marks: Marks) -> None:
        self.secrets.set_marks(ctx.user.name, marks)


def _delete_after(ctx: Context) -> int:
    state = ctx.state
    if state is not None and state.delete_after_days is not None:
        return state.delete_after_days
    return ctx.policy.delete_after_days


def _key(action: Action) -> str:
    if action.key_id is None:
        raise ValueError(f"{action.kind.value} needs a key id")
    return action.key_id
