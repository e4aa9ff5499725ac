"""The undo button: make the previous key current again while it still exists.

The previous key is re-activated, its secret (still in the AWSPREVIOUS version) staged as a new
version, proved to authenticate and promoted; the key it displaces becomes the previous key and
is retired on the usual schedule. If anything fails, the previous key is put back as it was.
"""

from __future__ import annotations

from keyturn import notifications
from keyturn.core.actions import Action, ActionKind, Reason, Snapshot
from keyturn.core.models import KeyStatus, NewKey
from keyturn.errors import AwsError, ConcurrentDeliveryError, RefusedError, VerificationError
from keyturn.execution import Context, Executor
from keyturn.ports import Delivery
from keyturn.results import StepDone
from keyturn.state_codec import delivery_token


def restore(executor: Executor, ctx: Context, snapshot: Snapshot) -> StepDone:
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
    stored = executor.secrets.read_previous(name)
    if stored is None or stored.key_id != previous.key_id:
        reason = (
            f"keyturn never held the secret of {previous.key_id} (it predates keyturn), so it "
            "cannot become AWSCURRENT; re-activate it with aws iam update-access-key if needed"
        )
        raise RefusedError(name, reason)
    promoter = executor.promotion
    if not previous.active:
        executor.keys.set_key_status(name, previous.key_id, KeyStatus.ACTIVE)
    delivery = Delivery(
        NewKey(name, stored.key_id, stored.secret, stored.created),
        ctx.now,
        state.current_key_id,
        ctx.policy.grace_days,
        ctx.policy.delete_after_days,
        delivery_token(name, state),
        ctx.user.arn,
    )
    staged: Delivery | None = None
    try:
        staged = promoter.stage_next(delivery, state)
        promoter.verify(name, stored, ctx.now)
        ref = promoter.promote(name, staged.token)
    except (AwsError, VerificationError) as exc:
        if staged is not None:
            executor.secrets.unstage(name, staged.token)
        if not previous.active:
            executor.keys.set_key_status(name, previous.key_id, KeyStatus.INACTIVE)
        if isinstance(exc, ConcurrentDeliveryError):
            raise RefusedError(name, "another run changed the secret at the same time") from exc
        raise
    message = notifications.restored(name, previous.key_id, state.current_key_id, ref)
    executor.notifier.publish(message)
    return StepDone(Action(ActionKind.CREATE, Reason.RESTORED, state.current_key_id), stored.key_id)
