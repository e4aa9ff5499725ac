"""Which of a run's rotations start first when it cannot start them all: the fair order.

A run short of time starts the rotations whose oldest active key is oldest and defers the rest.
Deferred users need no memory: a rotated user's key becomes the youngest and the user is no
longer due, so the users deferred now lead the next run, and a user deferred for longer holds
an older key than one deferred since.

A user whose rotation *failed* keeps its old key and would lead every run, so enough failing
users could take every run's capacity. A failed rotation is therefore remembered (one tag,
written only on that failure: ``keyturn:rotation-failed``) and the user queues again as if its
key had become due at the failure: behind the users that were already waiting. With one
rotation age for all, the order is first-come first-served on "due since", so every user is
reached within ceil(N / k) runs of capacity k, failing users included.

Users without an active key risk nothing by waiting and go last; equal ages go by name, so
the order does not depend on how the users were listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from keyturn.core.models import AccessKey

Urgency = tuple[bool, float, bool, str]
"""A sort key: (no active key, when the user's wait began as a timestamp, whether a failure
set that time (it waits behind a key that fell due at the same moment), the name)."""


def oldest_active(keys: Iterable[AccessKey]) -> datetime | None:
    """When the oldest active key of ``keys`` was created; None without an active key."""
    return min((k.created for k in keys if k.active), default=None)


def urgency(
    user_name: str,
    keys: Iterable[AccessKey],
    *,
    rotate_after: timedelta,
    failed_at: datetime | None = None,
    now: datetime | None = None,
) -> Urgency:
    """How urgent a rotation is: sorted ascending, the most urgent comes first.

    Parameters:
        rotate_after: the user's rotation age; a failure at ``failed_at`` counts the key as
            created that long before the failure (so it waits behind those due earlier).
        now: a failure stamp later than this (someone else's tag) counts as now.
    """
    created = oldest_active(keys)
    if created is None:
        return (True, 0.0, False, user_name)
    if failed_at is not None:
        failed_at = min(failed_at, now) if now is not None else failed_at
        if failed_at - rotate_after >= created:
            return (False, (failed_at - rotate_after).timestamp(), True, user_name)
    return (False, created.timestamp(), False, user_name)
