"""Fair deferral (issue 12.3): the order a run short of time starts its rotations in."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import chain, pairwise, repeat

from hypothesis import given
from hypothesis import strategies as st

from keyturn.core import codec
from keyturn.core.actions import ActionKind
from keyturn.core.delivery import Marks, StoredKey
from keyturn.core.models import AccessKey, KeyStatus
from keyturn.core.urgency import urgency
from keyturn.rotation.ports import Probe
from keyturn.rotation.results import Status, UserResult
from keyturn.testing import FakeAws

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROTATE_AFTER = timedelta(days=90)


def key(created: datetime) -> AccessKey:
    return AccessKey("AKIA" + "A" * 16, KeyStatus.ACTIVE, created)


def simulate(
    ages: list[int], capacity: int, failing: set[int], *, remember: bool = True
) -> tuple[dict[int, int], list[tuple[int, set[int]]]]:
    """Daily runs over due users (index -> key age in days) that each start ``capacity``
    rotations; the ``failing`` users' rotations always fail. Returns the run in which each
    user was first reached, and for each run how many were due and whom it reached."""
    created = {n: T0 - timedelta(days=age) for n, age in enumerate(ages)}
    failed: dict[int, datetime] = {}
    first: dict[int, int] = {}
    reached: list[tuple[int, set[int]]] = []
    due = set(created)
    for run in range(len(ages) + 2):
        now = T0 + timedelta(days=run)
        order = sorted(
            due,
            key=lambda n: urgency(
                f"user{n:03}",
                [key(created[n])],
                rotate_after=ROTATE_AFTER,
                failed_at=failed.get(n) if remember else None,
                now=now,
            ),
        )
        started = order[:capacity]
        reached.append((len(due), set(started)))
        for n in started:
            first.setdefault(n, run + 1)
            if n in failing:
                failed[n] = now
            else:
                created[n] = now  # a young key: no longer due
                due.discard(n)
    return first, reached


@given(
    ages=st.lists(st.integers(min_value=90, max_value=2000), min_size=1, max_size=40),
    capacity=st.integers(min_value=1, max_value=10),
    data=st.data(),
)
def test_every_due_user_is_reached_within_a_bounded_number_of_runs(
    ages: list[int], capacity: int, data: st.DataObject
) -> None:
    # GIVEN N due users, some of whose rotations always fail, and k rotations per run
    failing = data.draw(st.sets(st.integers(min_value=0, max_value=len(ages) - 1)))
    # WHEN runs start the most urgent first
    first, reached = simulate(ages, capacity, failing)
    # THEN every user is reached within ceil(N / k) runs
    assert set(first) == set(range(len(ages)))
    assert max(first.values()) <= math.ceil(len(ages) / capacity)
    # AND a run never starts the same users as the one before, unless only they are due
    for (_, before), (due, after) in pairwise(reached):
        assert after != before or due <= capacity


def test_without_the_failure_mark_failing_users_would_take_every_run() -> None:
    # the three oldest keys fail every time; two rotations per run
    ages = [300, 299, 298, 120, 110, 100]
    _, forgetful = simulate(ages, 2, {0, 1, 2}, remember=False)
    assert all(started <= {0, 1, 2} for _, started in forgetful)  # users 3 to 5 starve
    first, _ = simulate(ages, 2, {0, 1, 2})
    assert max(first.values()) <= 3


def test_the_oldest_key_leads_and_keyless_users_go_last() -> None:
    ranked = sorted(
        [
            urgency("young", [key(T0 - timedelta(days=91))], rotate_after=ROTATE_AFTER),
            urgency("none", [], rotate_after=ROTATE_AFTER),
            urgency("old", [key(T0 - timedelta(days=400))], rotate_after=ROTATE_AFTER),
        ]
    )
    assert [name for *_, name in ranked] == ["old", "young", "none"]


def test_a_failure_waits_behind_a_key_that_fell_due_at_that_moment() -> None:
    due_then = [key(T0 - ROTATE_AFTER)]
    failed = urgency(
        "a-failed", [key(T0 - timedelta(days=400))], rotate_after=ROTATE_AFTER, failed_at=T0
    )
    assert urgency("b-due", due_then, rotate_after=ROTATE_AFTER) < failed


def test_a_forged_future_failure_counts_as_now() -> None:
    """Whoever may tag the secret can push a user back once, as a failure now would, but
    not out of every run to come."""
    old = [key(T0 - timedelta(days=400))]
    forged = urgency(
        "u", old, rotate_after=ROTATE_AFTER, failed_at=T0 + timedelta(days=9999), now=T0
    )
    assert forged == urgency("u", old, rotate_after=ROTATE_AFTER, failed_at=T0, now=T0)


def test_the_failure_mark_round_trips_and_garbage_is_ignored() -> None:
    to_set = codec.mark_tags(Marks(rotation_failed_at=T0))
    assert to_set == {codec.TAG_ROTATION_FAILED: T0.isoformat()}
    state = codec.state_from(None, to_set)
    assert state is not None
    assert state.rotation_failed_at == T0
    for garbage in ("yesterday", "2026-01-01T00:00:00", "x" * 100):
        assert codec.state_from(None, {codec.TAG_ROTATION_FAILED: garbage}) is None


class RejectsUser:
    """A verifier on the fake IAM that never accepts the keys of one user."""

    def __init__(self, world: FakeAws, user: str) -> None:
        self.world, self.user = world, user

    def probe(self, key: StoredKey) -> Probe:
        owner = self.world.iam.owner_of(key.key_id)
        if owner is None or owner[0].name == self.user:
            return Probe(accepted=False, code="InvalidClientTokenId")
        return Probe(accepted=True)


def tried(result: UserResult) -> bool:
    """The run started a rotation for this user (done, or failed)."""
    created = any(d.action.kind is ActionKind.CREATE for d in result.done)
    return created or result.status is Status.FAILED


def test_a_failed_rotation_waits_behind_the_users_already_due(world: FakeAws) -> None:
    # GIVEN three due users; the oldest key's replacement never authenticates
    for name, age in (("bad", 300), ("good1", 120), ("good2", 100)):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=age)

    def short_run() -> list[tuple[str, Status]]:
        rotator = replace(
            world.rotator(), verifier=RejectsUser(world, "bad"), sleep=world.clock.sleep
        )
        budget = chain([1000.0] * 4, repeat(10.0))  # three reads, one rotation
        run = rotator.run(seconds_left=lambda: next(budget))
        world.clock.advance(days=1)
        return [(u.user_name, u.status) for u in run.users if tried(u)]

    # WHEN runs with time for one rotation follow each other
    # THEN the failing user is tried first, then waits behind the others
    assert short_run() == [("bad", Status.FAILED)]
    state = world.secrets.read_state("bad")
    assert state is not None
    assert state.rotation_failed_at is not None
    assert short_run() == [("good1", Status.CHANGED)]
    assert short_run() == [("good2", Status.CHANGED)]
