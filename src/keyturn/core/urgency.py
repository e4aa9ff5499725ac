"""Which of a run's rotations start first when it cannot start them all: the fair order.

A run that is short of time starts the rotations whose oldest active key is oldest and defers
the rest. No memory (and no write) is needed for this to be fair to deferred users: a rotated
user's key becomes the youngest and the user is no longer due, so the users deferred now lead
the next run, and a user deferred for longer holds an older key than one deferred since.
Users without an active key risk nothing by waiting and go last; equal ages go by name, so
the order does not depend on how the users were listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from keyturn.core.models import AccessKey

Urgency = tuple[bool, float, str]
"""A sort key: (no active key, the oldest active key's creation as a timestamp, the name)."""


def oldest_active(keys: Iterable[AccessKey]) -> datetime | None:
    """When the oldest active key of ``keys`` was created; None without an active key."""
    return min((k.created for k in keys if k.active), default=None)


def urgency(user_name: str, keys: Iterable[AccessKey]) -> Urgency:
    """How urgent a rotation is: sorted ascending, the most urgent comes first."""
    created = oldest_active(keys)
    return (created is None, created.timestamp() if created else 0.0, user_name)


def most_urgent_first(users: Mapping[str, Iterable[AccessKey]]) -> list[str]:
    """The names of ``users`` (name -> keys) in the order a run starts their rotations."""
    return sorted(users, key=lambda name: urgency(name, users[name]))
