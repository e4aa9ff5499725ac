"""Making room for a new key: IAM allows two, and keyturn never deletes an active key.

A rotation needs a free slot. One is made only by deleting an inactive key keyturn did not
create (where allowed), or, for a rotation Secrets Manager asked for, by retiring the previous
key when no consumer needs it; otherwise the rotation is refused, or waits for keyturn's own
previous key to finish its lifecycle. A refusal says which key fills the slot and until when.
"""

from __future__ import annotations

from datetime import datetime

from keyturn.core import usage
from keyturn.core.actions import Action, ActionKind, Reason, Snapshot
from keyturn.core.models import AccessKey, StoredState, mask_key_id
from keyturn.core.policy import Policy
from keyturn.core.roles import KeyRoles, Refusal, deletion_run, retirement


def free_slot(
    snapshot: Snapshot,
    roles: KeyRoles,
    incumbent: AccessKey | None,
    policy: Policy,
    now: datetime,
) -> Action | Refusal | None:
    """Nothing if a key can be created; else a deletion that frees a slot, or a refusal."""
    if len(snapshot.keys) < 2:
        return None
    others = [k for k in snapshot.keys if incumbent is None or k.key_id != incumbent.key_id]
    deletable = [k for k in others if not k.active and k in roles.foreign]
    if deletable and policy.delete_foreign_keys:
        oldest = min(deletable, key=lambda k: k.created)
        return Action(ActionKind.DELETE, Reason.MAKE_ROOM, oldest.key_id, "inactive foreign key")
    return Refusal(_no_room_reason(others, roles, snapshot.state, policy, now))


def _no_room_reason(
    others: list[AccessKey], roles: KeyRoles, state: StoredState, policy: Policy, now: datetime
) -> str:
    other = others[0]
    shown = mask_key_id(other.key_id)
    if other.active:
        if roles.previous is not None and other.key_id == roles.previous.key_id:
            due = retirement(state, other, policy).when(policy.clock, now)
            return f"previous key {shown} is still active until {_iso(due)}; two keys are the limit"
        return f"two active keys; keyturn never deletes an active key ({shown}) to make room"
    if roles.previous is not None and other.key_id == roles.previous.key_id:
        deactivated = state.deactivated_time(other.key_id) or now
        until = deletion_run(state, policy, deactivated, now)
        return f"previous key {shown} can still be restored until {_iso(until)}"
    return (
        f"inactive key {shown} was not created by keyturn; delete it or set "
        "KEYTURN_DELETE_FOREIGN_KEYS=true"
    )


def free_slot_by_retiring(
    roles: KeyRoles, state: StoredState, policy: Policy, now: datetime, refusal: Refusal
) -> Action | Refusal:
    """For a Secrets Manager rotation: retire the previous key if no consumer needs it, never
    before its retirement is due (evidence that a consumer switched cannot exist yet, and the
    consumer was promised the grace)."""
    previous = roles.previous
    if previous is not None and previous.active:
        dates = retirement(state, previous, policy)
        if not dates.due(policy.clock, now):
            due = dates.when(policy.clock, now)
            return Refusal(
                f"previous key {mask_key_id(previous.key_id)} is inside its grace period until "
                f"{_iso(due)}; a requested rotation never retires it early"
            )
    retire = usage.retire_for_room(roles.previous, state, policy, now, roles.current)
    if retire is not None:
        return retire
    if previous is not None and usage.in_use(previous, state, policy, roles.current):
        return Refusal(f"{refusal.reason}, and it is still in use (a consumer would be cut off)")
    return refusal


def only_previous_blocks(snapshot: Snapshot, roles: KeyRoles) -> bool:
    """True when keyturn's own previous key, still in its lifecycle, is what fills the slot."""
    previous = roles.previous
    return previous is not None and roles.current is not None and len(snapshot.keys) == 2


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
