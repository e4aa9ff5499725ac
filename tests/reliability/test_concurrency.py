"""Issue 6.2: eight keyturn runs on the same user at once, as threads and as processes.

Each round starts from a user whose rotation is due (one 81-day-old key; or no key at all,
where IAM's two-key limit lets two runs create a key and the delivery token decides), lets
eight runners start together at a barrier, and then checks: exactly one new key survives, and
the invariants of :meth:`World.violations` hold without any recovery run. Keys a losing run
created and removed again itself are counted as transient.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from typing import Any

import pytest
from moto.iam.models import IAMBackend

from keyturn.emulator import EmbeddedAws
from keyturn.wiring import build_rotator

from .conftest import SLOW, report
from .racers import join, race
from .world import USER, World, client, fresh_session

# Sized by KEYTURN_SLOW: small in `make test`, full in `make test-slow` (-m slow).
pytestmark = pytest.mark.slow

RACERS = 8
ROUNDS = 200 if SLOW else 50
PROCESS_ROUNDS = 200 if SLOW else 50
"""Default: 50 rounds in all, half threads, half processes (about a second per round)."""
STARTS = ("one key due", "no key")


@dataclass
class Rounds:
    """Figures over all rounds of one kind of racer."""

    rounds: int = 0
    one_survivor: int = 0
    transient: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        outcomes = ", ".join(f"{k} {n}" for k, n in self.outcomes.most_common())
        return (
            f"exactly one new key in {self.one_survivor}/{self.rounds} rounds of {RACERS} runs; "
            f"invariants held in {self.rounds - len(self.problems)}/{self.rounds}; "
            f"{self.transient} transient keys (created, then removed by the losing run); "
            f"outcomes: {outcomes}"
        )


@pytest.fixture
def created_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key the emulator creates, as it creates it."""
    created: list[str] = []
    original = IAMBackend.create_access_key

    def counting(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        key = original(self, *args, **kwargs)
        created.append(key.access_key_id)
        return key

    monkeypatch.setattr(IAMBackend, "create_access_key", counting)
    return created


def arrange(aws: EmbeddedAws, start: str) -> tuple[World, frozenset[str]]:
    aws.reset()
    world = World(aws)
    world.add_user()
    if start == "one key due":
        world.add_foreign_key(81)
    return world, frozenset(world.access_keys())


def play(
    aws: EmbeddedAws,
    created: list[str],
    rounds: int,
    racers: Callable[[World, str], list[str]],
) -> Rounds:
    figures = Rounds()
    for number in range(rounds):
        start = STARTS[number % len(STARTS)]
        world, initial = arrange(aws, start)
        created.clear()
        command = "rotate" if number % 4 >= 2 else "run"
        figures.outcomes.update(racers(world, command))
        new = set(world.access_keys()) - initial
        figures.rounds += 1
        figures.one_survivor += len(new) == 1
        figures.transient += len(set(created) - new)
        problems = world.violations(initial)
        if len(new) != 1:
            problems.append(f"{len(new)} new keys survive")
        if problems:
            figures.problems.append(f"round {number} ({start}, {command}): {problems}")
    return figures


def test_eight_threads_at_once(aws: EmbeddedAws, created_keys: list[str]) -> None:
    def racers(world: World, command: str) -> list[str]:
        barrier = threading.Barrier(RACERS)
        args = (aws.url, world.topic_arn, USER, command, barrier)
        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(lambda _: race(*args), range(RACERS)))

    figures = play(aws, created_keys, ROUNDS, racers)
    report("concurrency (threads)", figures.describe())
    assert figures.problems == []


@pytest.fixture(scope="module")
def process_pool() -> Iterator[Pool]:
    """Eight spawned worker processes (imported once), sharing one start barrier."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    with context.Pool(RACERS, initializer=join, initargs=(barrier,)) as pool:
        yield pool


def test_eight_processes_at_once(
    aws: EmbeddedAws, created_keys: list[str], process_pool: Pool
) -> None:
    def racers(world: World, command: str) -> list[str]:
        args = [(aws.url, world.topic_arn, USER, command)] * RACERS
        return process_pool.starmap(race, args, chunksize=1)

    figures = play(aws, created_keys, PROCESS_ROUNDS, racers)
    report("concurrency (processes)", figures.describe())
    assert figures.problems == []


def test_a_key_deleted_while_being_listed_is_left_out(aws: EmbeddedAws) -> None:
    """Found by the thread races: a losing run deleted its key between another run's
    ListAccessKeys and GetAccessKeyLastUsed, and NoSuchEntity failed that other run."""
    world, _ = arrange(aws, "one key due")
    doomed = world.add_foreign_key(1, active=False)
    session = fresh_session(aws)

    def deleted_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if params.get("AccessKeyId") == doomed:
            client(aws, "iam").delete_access_key(UserName=USER, AccessKeyId=doomed)

    session.events.register("before-parameter-build.iam.GetAccessKeyLastUsed", deleted_meanwhile)
    rotator = build_rotator(world.settings(), session=session)
    assert [k.key_id for k in rotator.keys.list_keys(USER)] == sorted(set(world.access_keys()))
    assert doomed not in world.access_keys()
