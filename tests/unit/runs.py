"""Scheduled runs of the pure planner: what happens to one user's keys, run by run.

Each run plans at its start and carries the plan out a few seconds later (``stamp``), as the
engine does: keys are created and deactivations recorded at the later moment, so every deadline
keyturn stamps falls a little after the run that set it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from keyturn.core import (
    AccessKey,
    ActionKind,
    Plan,
    Policy,
    Reason,
    Snapshot,
    StoredState,
    User,
    apply,
    plan,
)

DAY = timedelta(days=1)
USER = User("runs")


@dataclass(frozen=True)
class Event:
    """One action on a key: on which run (counted from the first), when, and why."""

    run: int
    at: datetime
    kind: ActionKind
    reason: Reason
    key_id: str | None
    age_days: float | None


@dataclass
class History:
    """What the runs did; ``plans[i]`` is run ``i``'s plan, ``starts[i]`` its start."""

    starts: list[datetime] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def first(self, kind: ActionKind, key_id: str | None) -> Event | None:
        return next((e for e in self.events if e.kind is kind and e.key_id == key_id), None)


def run_daily(
    keys: Sequence[AccessKey],
    state: StoredState | None,
    policy: Policy,
    *,
    start: datetime,
    runs: int,
    stamp: timedelta = timedelta(seconds=7),
    jitter: Callable[[int], timedelta] = lambda _: timedelta(0),
    in_use: Callable[[str], bool] = lambda _: False,
    until: Callable[[History], bool] = lambda _: False,
) -> History:
    """Run the planner every ``policy.run_interval`` (a day without one) from ``start``.

    ``jitter(i)`` moves run ``i``'s start; ``in_use(key_id)`` says whether the consumer calls
    AWS with that key just before each run; ``until`` stops the runs early.
    """
    interval = policy.run_interval or DAY
    snapshot, history = Snapshot(tuple(keys), state or StoredState()), History()
    for index in range(runs):
        now = start + index * interval + jitter(index)
        used = tuple(
            replace(k, last_used=now - timedelta(minutes=1)) if in_use(k.key_id) else k
            for k in snapshot.keys
        )
        snapshot = Snapshot(used, snapshot.state)
        found = plan(USER, snapshot.keys, snapshot.state, policy, now)
        history.starts.append(now)
        history.plans.append(found)
        for number, action in enumerate(found.actions):
            done = now + stamp
            target = snapshot.key(action.key_id)
            age = (done - target.created) / DAY if target is not None else None
            history.events.append(
                Event(index, done, action.kind, action.reason, action.key_id, age)
            )
            snapshot = apply(snapshot, action, done, f"AKIANEW{index:05d}{number:08d}")
        if until(history):
            break
    return history
