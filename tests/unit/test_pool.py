"""The concurrent run (issue 12.2): bounded work, overlapping proofs, paced writes, no cut-offs."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from keyturn.errors import ConfigurationError
from keyturn.rotation.pool import Pace, WorkSlots, WriteRate, in_order, run_each
from keyturn.rotation.results import Status, UserResult
from keyturn.settings import (
    ENV_CONCURRENCY,
    ENV_IAM_WRITES_PER_SECOND,
    ENV_USERS_IN_FLIGHT,
    Scope,
    Settings,
)
from keyturn.testing import FakeAws, InMemoryVerifier

USERS = 4


def due_users(world: FakeAws, count: int = USERS) -> list[str]:
    names = [f"user{n}" for n in range(count)]
    for age, name in enumerate(names):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=100 + age)
    return names


class Crash(BaseException):
    """A process dying mid-run (not an Exception: nothing may swallow it)."""


def test_proofs_overlap_though_only_one_user_may_make_calls(world: FakeAws) -> None:
    # GIVEN one work slot, four due users and a prover whose pause returns only once all
    # four proofs are pausing together
    due_users(world)
    together = threading.Barrier(USERS, timeout=10)
    paused: set[int] = set()

    def sleep(seconds: float) -> None:
        if threading.get_ident() not in paused:
            paused.add(threading.get_ident())
            together.wait()  # breaks (and the user fails) unless the four overlap
        world.clock.sleep(seconds)

    settings = replace(world.settings, concurrency=1, users_in_flight=USERS)
    rotator = replace(world.rotator(settings), verifier=InMemoryVerifier(world.iam), sleep=sleep)
    # WHEN they run
    run = rotator.run()
    # THEN every rotation went through: the pause handed the one slot over each time
    assert [u.status for u in run.users] == [Status.CHANGED] * USERS, [u.message for u in run.users]
    assert all(len(world.iam.keys[f"user{n}"]) == 2 for n in range(USERS))


def test_progress_hears_each_user_once_from_any_thread(world: FakeAws) -> None:
    names = due_users(world)
    world.iam.add_user("settled")
    heard: list[UserResult] = []
    lock = threading.Lock()

    def progress(result: UserResult) -> None:
        with lock:
            heard.append(result)

    run = world.rotator().run(progress=progress)
    assert sorted(r.user_name for r in heard) == sorted([*names, "settled"])
    assert {r.user_name: r.status for r in heard} == {u.user_name: u.status for u in run.users}


def test_a_failing_progress_listener_does_not_stop_the_run(world: FakeAws) -> None:
    due_users(world, 2)

    def broken(_: UserResult) -> None:
        raise RuntimeError("the progress bar fell over")

    run = world.rotator().run(progress=broken)
    assert [u.status for u in run.users] == [Status.CHANGED, Status.CHANGED]


def test_deferral_starts_nothing_more_and_finishes_what_it_started() -> None:
    started: list[int] = []
    answers = iter([True, True, False])

    def work(n: int) -> str:
        started.append(n)
        return f"done {n}"

    results = run_each(
        [0, 1, 2, 3],
        work,
        Pace.of(2, 2, 0),
        may_start=lambda: next(answers),
        skipped=lambda n: f"deferred {n}",
    )
    assert results == ["done 0", "done 1", "deferred 2", "deferred 3"]
    assert sorted(started) == [0, 1]


def test_a_crash_in_a_worker_stops_the_run_after_the_started_users_end() -> None:
    finished: list[int] = []
    first_started = threading.Event()

    def work(n: int) -> int:
        if n == 0:
            first_started.set()
            raise Crash
        first_started.wait(5)
        finished.append(n)
        return n

    with pytest.raises(Crash):
        run_each(
            list(range(50)),
            work,
            Pace.of(1, 1, 0),
            may_start=lambda: True,
            skipped=lambda n: -n,
        )
    # one place in flight: once the crash is seen, nothing else starts
    assert len(finished) <= 1


def test_a_pause_outside_a_slot_is_a_plain_sleep() -> None:
    slept: list[float] = []
    WorkSlots(1).pause(slept.append, 2.5)
    assert slept == [2.5]


def test_iam_writes_keep_their_pace_after_a_burst() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    rate = WriteRate(10, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(25):
        rate.wait()
    # a second's worth (and the one now) at once, then one every 0.1 s
    assert len(slept) == 25 - 11
    assert slept[-1] == pytest.approx(1.4)
    assert rate.queue_seconds(8) == pytest.approx(8 * 3 / 10)


def test_an_unpaced_rate_never_waits() -> None:
    rate = WriteRate(0, monotonic=lambda: 0.0, sleep=lambda _: pytest.fail("slept"))
    for _ in range(100):
        rate.wait()
    assert rate.queue_seconds(128) == 0


def test_the_pace_comes_from_the_environment() -> None:
    settings = Settings.from_env(
        {ENV_CONCURRENCY: "4", ENV_USERS_IN_FLIGHT: "40", ENV_IAM_WRITES_PER_SECOND: "0"}
    )
    assert (settings.concurrency, settings.users_in_flight, settings.iam_writes_per_second) == (
        4,
        40,
        0,
    )
    defaults = Settings.from_env({})
    assert (defaults.concurrency, defaults.users_in_flight) == (32, 128)
    assert defaults.iam_writes_per_second == 25


@pytest.mark.parametrize(
    "environ",
    [
        {ENV_CONCURRENCY: "0"},
        {ENV_CONCURRENCY: "65"},
        {ENV_CONCURRENCY: "eight"},
        {ENV_CONCURRENCY: "16", ENV_USERS_IN_FLIGHT: "8"},
        {ENV_USERS_IN_FLIGHT: "1001"},
        {ENV_IAM_WRITES_PER_SECOND: "-1"},
        {ENV_IAM_WRITES_PER_SECOND: "101"},
    ],
)
def test_an_unusable_pace_is_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_env(environ)


def test_users_outside_the_scope_are_reported_in_listing_order(world: FakeAws) -> None:
    world.iam.add_user("b-ours", tags={"keyturn:managed": "true"})
    world.iam.add_user("a-theirs")
    world.iam.add_key("b-ours", age_days=100)
    rotator = world.rotator(Settings(scope=Scope(manage_tagged=True)))
    run = rotator.run()
    assert [(u.user_name, u.status) for u in run.users] == [
        ("b-ours", Status.CHANGED),
        ("a-theirs", Status.UNMANAGED),
    ]


def test_in_order_works_on_many_at_once_and_keeps_the_items_order() -> None:
    # GIVEN four workers, and work that only finishes once four items are being worked on
    together = threading.Barrier(4, timeout=10)

    def work(n: int) -> int:
        together.wait()  # raises BrokenBarrierError if fewer than four ever ran at once
        return n * n

    # THEN the results come in the items' order
    assert list(in_order(list(range(8)), work, 4)) == [n * n for n in range(8)]


def test_in_order_with_one_worker_starts_nothing_before_it_is_asked() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        return n

    results = in_order([1, 2, 3], work, 1)
    assert started == []
    assert next(results) == 1
    assert started == [1]


def test_in_order_raises_the_first_failure_in_the_items_order() -> None:
    def work(n: int) -> int:
        if n in (2, 3):
            raise ValueError(f"item {n}")
        return n

    with pytest.raises(ValueError, match="item 2"):
        list(in_order([0, 1, 2, 3, 4], work, 3))


def test_a_write_waiting_for_its_turn_gives_its_work_slot_back() -> None:
    # GIVEN one work slot and one IAM write a second
    free_while_waiting: list[bool] = []
    pace: Pace

    def sleep(_: float) -> None:
        took = pace.slots._slots.acquire(blocking=False)  # could another user work now?
        if took:
            pace.slots._slots.release()
        free_while_waiting.append(took)

    pace = Pace.of(1, 1, 1, sleep=sleep)
    pace.rate.monotonic = lambda: 100.0
    with pace.slots.held():
        for _ in range(3):  # the burst's writes go at once, then one has to wait
            pace.rate.wait()
    # THEN the slot was free while the write waited, and nothing else slept
    assert free_while_waiting == [True]
