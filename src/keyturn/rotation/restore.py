"""The undo button: make the previous key current again while it still exists.

The previous key is re-activated, its secret (still in the AWSPREVIOUS version) staged as a new
version, proved to authenticate and promoted; the key it displaces becomes the previous key and
is retired on the usual schedule. If anything fails, the previous key is put back as it was,
unless AWSCURRENT already moved to it (only clearing the mark failed): then it stays current.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keyturn.core.actions import Action, ActionKind, Reason, Snapshot
from keyturn.core.codec import delivery_token
from keyturn.core.delivery import PREVIOUS, Delivery, SecretRef, StoredKey
from keyturn.core.models import AccessKey, KeyStatus, NewKey
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
        )
        ref = self._bring_back(delivery, stored, previous, snapshot)
        message = notices.restored(name, previous.key_id, state.current_key_id, ref)
        self.notifier.publish(message)
        action = Action(ActionKind.CREATE, Reason.RESTORED, state.current_key_id)
        return StepDone(action, stored.key_id)

    def _previous_secret(self, name: str, previous: AccessKey) -> StoredKey:
        version = self.secrets.labelled(name, PREVIOUS)
        if version is None or version.key.key_id != previous.key_id:
            reason = (
                f"keyturn never held the secret of {previous.key_id} (it predates keyturn), so "
                "it cannot become AWSCURRENT; re-activate it with aws iam update-access-key if "
                "needed"
            )
            raise RefusedError(name, reason)
        return version.key

    def _bring_back(
        self, delivery: Delivery, stored: StoredKey, previous: AccessKey, snapshot: Snapshot
    ) -> SecretRef:
        name = delivery.key.user_name
        staged: Delivery | None = None
        try:
            staged = self.promoter.stage_next(delivery, snapshot.state)
            self.promoter.verify(name, stored, delivery.stored_at)
            return self.promoter.promote(name, staged.token)
        except (AwsError, VerificationError) as exc:
            promoted = self._promoted(name, stored.key_id) if isinstance(exc, AwsError) else False
            if promoted is not True:
                self._roll_back(name, staged, previous, deactivate=promoted is False)
                if isinstance(exc, ConcurrentDeliveryError):
                    reason = "another run changed the secret at the same time"
                    raise RefusedError(name, reason) from exc
                raise
            # Only clearing the in-flight mark failed: the restored key is AWSCURRENT and stays
            # active; the planner clears a stale mark.
            log.warning("restore reported %s after AWSCURRENT moved; keeping it", exc)
            return self.secrets.locate(name)

    def _promoted(self, user_name: str, key_id: str) -> bool | None:
        """Whether AWSCURRENT names ``key_id`` now; None if the secret cannot be read."""
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
