"""Consumer-aware lead time: start a rotation early enough for this consumer to switch.

keyturn records how long the consumer took to switch on its last rotations
(``StoredState.switch_days``: from storing the new key to its first use, keyturn's own proof
excluded). When the cap is enforced, the old key stays active at most until the cap, so a
consumer slower than ``max_active_days - rotate_after_days`` is cut off. With a usual delay
known, the rotation starts at ``max_active_days - ceil(usual + lead_margin_days)`` days of age
instead: never later than ``rotate_after_days``, never earlier than ``lead_floor_days``.

The usual delay is the longest of the recorded ones; a consumer whose delays differ by more
than :data:`ERRATIC_SPREAD_DAYS` is erratic and keeps the regular schedule (the cap wins, the
owner is told in advance, as without lead time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from keyturn.core.policy import Policy

ERRATIC_SPREAD_DAYS = 3.0
MAX_RECORDS = 3


def usual_switch_days(records: Sequence[float]) -> float | None:
    """The delay to plan for: the longest recent one; None if unknown or erratic."""
    recent = records[-MAX_RECORDS:]
    if not recent or max(recent) - min(recent) > ERRATIC_SPREAD_DAYS:
        return None
    return max(recent)


def rotation_age_days(policy: Policy, records: Sequence[float] = ()) -> int:
    """The key age at which this consumer's rotation is due."""
    regular = policy.rotation_days
    usual = usual_switch_days(records)
    if not policy.lead_time or not policy.enforce_max_age or usual is None:
        return regular
    needed = math.ceil(usual + policy.lead_margin_days)
    floor = min(policy.lead_floor_days, regular)
    return max(floor, min(regular, policy.max_active_days - needed))


def remember(records: Sequence[float], days: float) -> tuple[float, ...]:
    """The recent delays with ``days`` added, newest last."""
    return (*records, days)[-MAX_RECORDS:]
