"""How a run works on many users at once: bounded work, overlapping proofs, paced IAM writes.

A run is two stages over a bounded pool of threads (:func:`run_each`):

1. every managed user is read and planned; a plan without a new key (nothing to do, a
   retirement step, a refusal) is carried out at once, since it is a few calls;
2. the plans that create a key are ordered most urgent first (:mod:`keyturn.core.urgency`) and
   started while the invocation has time for one more worst case; the rest are deferred.

Three bounds keep it polite to IAM and within Lambda:

- :class:`WorkSlots`: at most ``concurrency`` users make AWS calls at once. A key's proof is
  waiting, not work: the prover's pause hands the slot back (:meth:`WorkSlots.pause`), so the
  proofs of many new keys overlap and a run lasts about one proof window plus the calls.
- ``users_in_flight``: the threads, one per user started and not finished.
- :class:`WriteRate`: IAM writes at most ``iam_writes_per_second`` over the run, on top of
  botocore's standard retries (which handle the throttling that still happens). A write
  waiting for its turn hands its slot back too.

A user is never cut off mid-way: ``run_each`` stops *starting* users when told to, and waits
for every user it started. A ``BaseException`` (a crash) stops the starting too and is raised
once the users in flight are done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from keyturn.core.last_use import LastUseWanted, every_key
from keyturn.core.models import AccessKey, KeyStatus, NewKey, User
from keyturn.core.urgency import Urgency, urgency
from keyturn.rotation.outcomes import Inspection
from keyturn.rotation.ports import KeyStore
from keyturn.rotation.results import UserResult

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
BURST_SECONDS = 1.0
IAM_WRITES_PER_ROTATION = 3
"""The most IAM writes one user's run makes (a creation, and its removal if the proof fails)."""


class WorkSlots:
    """At most ``size`` threads make calls at once; a pausing thread gives its slot back."""

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)
        self._mine = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a slot for the block (the calling thread's one user)."""
        self._slots.acquire()
        self._mine.held = True
        try:
            yield
        finally:
            self._mine.held = False
            self._slots.release()

    def pause(self, sleep: Callable[[float], None], seconds: float) -> None:
        """Sleep without holding a slot (the prover's wait between probes), then take one back."""
        if not getattr(self._mine, "held", False):
            sleep(seconds)
            return
        self._slots.release()
        try:
            sleep(seconds)
        finally:
            self._slots.acquire()


@dataclass
class WriteRate:
    """A client-side pace for IAM writes: one every ``1 / per_second`` seconds, run-wide, after
    a burst of up to a second's worth (a virtual-clock token bucket).

    Not a retry: each write waits its turn once, then goes through botocore as any call does.
    ``per_second == 0`` writes at once.
    """

    per_second: int
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def wait(self) -> None:
        """Take the next turn and wait for it."""
        if self.per_second <= 0:
            return
        with self._lock:
            now = self.monotonic()
            # a quiet second earns a second's worth of writes at once (a burst), no more
            turn = max(now - BURST_SECONDS, self._next)
            self._next = turn + 1 / self.per_second
        if turn > now:
            self.sleep(turn - now)

    def queue_seconds(self, writers: int) -> float:
        """How long ``writers`` users' writes can wait in the queue at worst."""
        if self.per_second <= 0:
            return 0.0
        return writers * IAM_WRITES_PER_ROTATION / self.per_second


@dataclass
class PacedKeys:
    """A :class:`~keyturn.rotation.ports.KeyStore` whose writes wait their :class:`WriteRate`."""

    keys: KeyStore
    rate: WriteRate

    def list_keys(self, user_name: str, *, last_use: LastUseWanted = every_key) -> list[AccessKey]:
        return self.keys.list_keys(user_name, last_use=last_use)

    def forget(self, user_name: str) -> None:
        self.keys.forget(user_name)

    def create_key(self, user_name: str) -> NewKey:
        self.rate.wait()
        return self.keys.create_key(user_name)

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None:
        self.rate.wait()
        self.keys.set_key_status(user_name, key_id, status)

    def delete_key(self, user_name: str, key_id: str) -> None:
        self.rate.wait()
        self.keys.delete_key(user_name, key_id)


@dataclass
class Pace:
    """A run's bounds, from the settings: work slots, users in flight, the IAM write pace."""

    slots: WorkSlots
    in_flight: int
    rate: WriteRate

    @classmethod
    def of(
        cls,
        concurrency: int,
        in_flight: int,
        writes_per_second: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Pace:
        """The bounds; a write waiting for its turn is waiting, not work: like a proof's pause
        it gives its slot back (holding it, 32 slots queued on 25 writes/s did nothing else)."""
        slots = WorkSlots(concurrency)
        return cls(
            slots, in_flight, WriteRate(writes_per_second, sleep=partial(slots.pause, sleep))
        )

    def queue_seconds(self) -> float:
        """How long a user's IAM writes can wait behind the others' at worst."""
        return self.rate.queue_seconds(self.in_flight)


def run_each(
    items: Sequence[T],
    work: Callable[[T], R],
    pace: Pace,
    *,
    may_start: Callable[[], bool],
    skipped: Callable[[T], R],
    done: Callable[[R], None] | None = None,
) -> list[R]:
    """``work`` on each item, at most ``pace.in_flight`` at once, each holding a work slot.

    Items are started in order while ``may_start()`` (asked just before each start, in the
    calling thread); once it says no, this and every later item is ``skipped``. ``done`` is
    called with each result as it finishes (from the worker's thread). Returns the results
    in the items' order.

    Raises:
        BaseException: the first one a worker raised (a crash), after the others finished.
    """
    if min(pace.in_flight, len(items)) <= 1:
        return _one_at_a_time(items, work, pace, may_start=may_start, skipped=skipped, done=done)
    results: list[R | None] = [None] * len(items)
    places = threading.BoundedSemaphore(pace.in_flight)
    crashed: list[BaseException] = []

    def one(index: int) -> None:
        try:
            with pace.slots.held():
                results[index] = work(items[index])
            _tell(done, results[index])
        except BaseException as exc:  # a crash: stop starting, raise it once all are done
            crashed.append(exc)
        finally:
            places.release()

    with ThreadPoolExecutor(max_workers=max(1, min(pace.in_flight, len(items)))) as pool:
        for index in range(len(items)):
            places.acquire()
            if crashed or not may_start():
                places.release()
                for rest in range(index, len(items)):
                    results[rest] = skipped(items[rest])
                    _tell(done, results[rest])
                break
            pool.submit(one, index)
    if crashed:
        raise crashed[0]
    return [r for r in results if r is not None]


def in_order(items: Sequence[T], work: Callable[[T], R], workers: int) -> Iterator[R]:
    """``work`` on each item, up to ``workers`` at once, the results in the items' order.

    For the reads that find a run's users (one round trip each): in turn they would be most
    of a large run's time. With one worker (or one item) nothing is started: each item is
    worked on as its result is asked for, as a plain ``map`` would.

    Raises:
        Exception: the first item's failure in the items' order; items not yet started are
            not started.
    """
    if min(workers, len(items)) <= 1:
        yield from map(work, items)
        return
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    try:
        yield from pool.map(work, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _one_at_a_time(
    items: Sequence[T],
    work: Callable[[T], R],
    pace: Pace,
    *,
    may_start: Callable[[], bool],
    skipped: Callable[[T], R],
    done: Callable[[R], None] | None,
) -> list[R]:
    """:func:`run_each` with one item in flight: in the calling thread, no pool to start (a
    run over one user, or one configured with ``KEYTURN_USERS_IN_FLIGHT=1``)."""
    results: list[R] = []
    for index, item in enumerate(items):
        if not may_start():
            rest = [skipped(i) for i in items[index:]]
            for result in rest:
                _tell(done, result)
            return results + rest
        with pace.slots.held():
            result = work(item)
        _tell(done, result)
        results.append(result)
    return results


def _tell(done: Callable[[R], None] | None, result: R | None) -> None:
    """Report one result; a failing listener (a progress bar) never stops the run."""
    if done is None or result is None:
        return
    try:
        done(result)
    except Exception:
        log.exception("the progress listener failed")


class Stages(Protocol):
    """What a run asks of the service for one user (:class:`~keyturn.rotation.rotator.Rotator`)."""

    @property
    def now(self) -> datetime:
        """The run's time, the one every plan is made for."""
        ...

    def manages(self, user: User) -> bool: ...

    def unmanaged(self, user: User) -> UserResult: ...

    def read(self, user: User) -> UserResult | Inspection:
        """Read and plan; carry out a plan that creates no key. An inspection is a rotation
        still to start."""
        ...

    def rotate(self, found: Inspection) -> UserResult: ...

    def deferred(self, user: User) -> UserResult: ...


def pipelined(
    users: Sequence[User],
    stages: Stages,
    pace: Pace,
    *,
    time_left: Callable[[], float] | None,
    reserve: tuple[float, float],
    progress: Callable[[UserResult], None] | None = None,
) -> list[UserResult]:
    """One run over ``users``: read them all, then start their rotations most urgent first.

    ``reserve`` is the time a user's reading and a user's rotation may take at worst; a user
    is started only while ``time_left()`` (None: unbounded) covers it. Returns the results in
    the users' order.
    """

    def room_for(seconds: float) -> Callable[[], bool]:
        return lambda: time_left is None or time_left() >= seconds

    def finished(result: UserResult | Inspection) -> None:
        if progress is not None and isinstance(result, UserResult):
            progress(result)

    outside = {u.name: stages.unmanaged(u) for u in users if not stages.manages(u)}
    for result in outside.values():
        _tell(progress, result)
    managed = [u for u in users if u.name not in outside]
    read = run_each(
        managed,
        stages.read,
        pace,
        may_start=room_for(reserve[0]),
        skipped=stages.deferred,
        done=finished,
    )
    waiting = sorted(
        (f for f in read if isinstance(f, Inspection)), key=lambda f: _urgency(f, stages.now)
    )
    rotated = run_each(
        waiting,
        stages.rotate,
        pace,
        may_start=room_for(reserve[1] + pace.queue_seconds()),
        skipped=lambda f: stages.deferred(f.user),
        done=progress,
    )
    by_name = {r.user_name: r for r in (*outside.values(), *rotated)}
    by_name.update({r.user_name: r for r in read if isinstance(r, UserResult)})
    return [by_name[u.name] for u in users]


def _urgency(found: Inspection, now: datetime) -> Urgency:
    rotate_after = timedelta(days=found.policy.rotate_after_days)
    failed_at = found.snapshot.state.rotation_failed_at
    keys = found.snapshot.keys
    return urgency(found.user.name, keys, rotate_after=rotate_after, failed_at=failed_at, now=now)
