"""The undo button: make the previous key current again while it still exists.

The key a user had before keyturn's first rotation can be brought back too, within the same
window: keyturn never held its secret, so the secret keeps naming the new key; the old key is
re-activated if needed and its retirement starts over (a ``keyturn:restored`` mark): it is
deactivated no earlier than ``grace_days`` after the restore, never past the cap when enforced.

The previous key is re-activated, its secret (still in the AWSPREVIOUS version) staged as a new
version, proved to authenticate and promoted; the key it displaces becomes the previous key and
is retired on the usual schedule. If anything fails, the previous key is put back as it was,
unless AWSCURRENT already moved to it (only the promotion's marks failed): then it stays
current, and the next run clears the stale mark and writes the lost proof mark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from keyturn.core.actions import Action, ActionKind, Reason, Snapshot
from keyturn.core.codec import delivery_token
from keyturn.core.delivery import PREVIOUS, Delivery, Marks, SecretRef, StoredKey
from keyturn.core.models import AccessKey, KeyStatus, NewKey, StoredState, mask_key_id
from keyturn.core.roles import retirement
from keyturn.errors import AwsError, ConcurrentDeliveryError, RefusedError, VerificationError
from keyturn.rotation import notices
from keyturn.rotation.executor import Context
from keyturn.rotation.ports import KeyStore, Notifier, Secrets
from keyturn.rotation.promotion import Promoter
from keyturn.rotation.results import StepDone

log = logging.getLogger(__name__)


@dataclass
class Restorer:
    """Brings the previous key back as AWSCURRENT."""

    keys: KeyStore
    secrets: Secrets
    promoter: Promoter
    notifier: Notifier

    def restore(self, ctx: Context, snapshot: Snapshot) -> StepDone:
        """Re-activate the previous key and make it AWSCURRENT again.

        Raises:
            RefusedError: nothing to restore (never rotated, or the previous key is deleted).
            VerificationError: the restored key did not authenticate; nothing changed.
            AwsError: a call failed; the previous key was put back as it was.
        """
        name, state = ctx.user.name, snapshot.state
        previous = snapshot.key(state.previous_key_id)
        if state.current_key_id is None or previous is None:
            raise RefusedError(name, "no previous key to restore (never rotated, or deleted)")
        stored = self._previous_secret(name, previous)
        if stored is None:
            return self._reinstate(ctx, previous, state)
        if not previous.active:
            self.keys.set_key_status(name, previous.key_id, KeyStatus.ACTIVE)
        delivery = Delivery(
            NewKey(name, stored.key_id, stored.secret, stored.created),
            ctx.now,
            state.current_key_id,
            ctx.policy.grace_days,
            ctx.policy.delete_after_days,
            delivery_token(name, state),
            ctx.user.arn,
            ctx.policy.ses_smtp_region,
        )
        ref = self._bring_back(delivery, stored, previous, snapshot)
        message = notices.restored(name, previous.key_id, state.current_key_id, ref)
        self.notifier.publish(message)
        action = Action(ActionKind.CREATE, Reason.RESTORED, state.current_key_id)
        return StepDone(action, stored.key_id)

    def _previous_secret(self, name: str, previous: AccessKey) -> StoredKey | None:
        """The previous key's secret in AWSPREVIOUS; None when keyturn never held it (the key
        the user had before keyturn's first rotation)."""
        version = self.secrets.labelled(name, PREVIOUS)
        if version is None or version.key.key_id != previous.key_id:
            return None
        return version.key

    def _reinstate(self, ctx: Context, previous: AccessKey, state: StoredState) -> StepDone:
        """Bring back a key whose secret keyturn never held: the secret keeps naming the new
        key; the old one is active again and its retirement starts over from now (a fresh
        grace period, the cap still kept when enforced)."""
        name, current = ctx.user.name, state.current_key_id or ""
        if not previous.active:
            self.keys.set_key_status(name, previous.key_id, KeyStatus.ACTIVE)
        self.secrets.set_marks(name, Marks(restored=(previous.key_id, ctx.now)))
        marked = replace(state, restored_key_id=previous.key_id, restored_at=ctx.now)
        active = replace(previous, status=KeyStatus.ACTIVE)
        due = retirement(marked, active, ctx.policy).when(ctx.policy.clock, ctx.now)
        detail = (
            f"{mask_key_id(previous.key_id)} is active again until {due.isoformat('T', 'seconds')} "
            f"at the earliest; keyturn never held its secret, so {ctx.secret.name} still names "
            f"{mask_key_id(current)}"
        )
        message = notices.reinstated(name, previous.key_id, current, due, ctx.secret)
        self.notifier.publish(message)
        action = Action(ActionKind.CREATE, Reason.RESTORED, current, detail, due=due)
        return StepDone(action, previous.key_id)

    def _bring_back(
        self, delivery: Delivery, stored: StoredKey, previous: AccessKey, snapshot: Snapshot
    ) -> SecretRef:
        name = delivery.key.user_name
        staged: Delivery | None = None
        try:
            staged = self.promoter.stage_next(delivery, snapshot.state)
            proof = self.promoter.proof(name, stored, delivery.stored_at)
            return self.promoter.promote(name, staged.token, proof)
        except (AwsError, VerificationError) as exc:
            promoted = self._promoted(name, stored.key_id) if isinstance(exc, AwsError) else False
            if promoted is not True:
                self._roll_back(name, staged, previous, deactivate=promoted is False)
                if isinstance(exc, ConcurrentDeliveryError):
                    reason = "another run changed the secret at the same time"
                    raise RefusedError(name, reason) from exc
                raise
            # Only the promotion's marks failed: the restored key is AWSCURRENT and stays active;
            # the next run clears the stale mark and writes the proof's bound.
            log.warning("restore reported %s after AWSCURRENT moved; keeping it", exc)
            return self.secrets.locate(name)

    def _promoted(self, user_name: str, key_id: str) -> bool | None:
        """Whether AWSCURRENT names ``key_id`` now; None if the secret cannot be read."""
        self.secrets.forget(user_name)  # what AWS holds now, not what this run wrote
        try:
            state = self.secrets.read_state(user_name)
        except AwsError:
            return None
        return state is not None and state.current_key_id == key_id

    def _roll_back(
        self, user_name: str, staged: Delivery | None, previous: AccessKey, *, deactivate: bool
    ) -> None:
        """Put the previous key back as it was. It is deactivated again only when AWSCURRENT
        surely does not name it: a key a consumer may be reading must not be switched off."""
        if staged is not None:
            self.secrets.unstage(user_name, staged.token)
        if deactivate and not previous.active:
            self.keys.set_key_status(user_name, previous.key_id, KeyStatus.INACTIVE)
