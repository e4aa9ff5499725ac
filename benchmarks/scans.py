"""Benchmarks on the emulator: no-op scans, one user's lifecycle, rotations per second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3

from benchmarks import original_recipe
from benchmarks.population import populate
from keyturn.aws.session import AwsClients
from keyturn.core.verification import VerificationPolicy
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.emulator.calls import CallCounter
from keyturn.rotation.ports import OffsetClock
from keyturn.rotation.results import Status
from keyturn.settings import Scope, Settings
from keyturn.wiring.fleet import AccountRun

PROOF = VerificationPolicy(successes=1, min_window=timedelta(0), interval=timedelta(seconds=0.01))
"""One STS probe per new key and no waiting window: moto knows a new key at once, and the
default window (15 s per rotation) would measure sleeping, not keyturn."""


@dataclass(frozen=True)
class Measured:
    seconds: float
    calls: CallCounter


@contextmanager
def counting_new_sessions(counter: CallCounter) -> Iterator[None]:
    """Count the calls of sessions made inside the block too (the key verifier's)."""
    original = boto3.Session

    class CountedSession(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            counter.attach(self)

    boto3.Session = CountedSession  # type: ignore[misc]
    try:
        yield
    finally:
        boto3.Session = original  # type: ignore[misc]


def account(
    aws: EmbeddedAws, clock: OffsetClock | None = None, topic: str | None = None
) -> tuple[AccountRun, CallCounter]:
    session = aws.session()
    counter = CallCounter().attach(session)
    settings = Settings(
        endpoint_url=aws.url,
        region=aws.region,
        topic_arn=topic,
        verification=PROOF,
        scope=Scope(manage_tagged=True),  # the population is tagged keyturn:managed
    )
    run = AccountRun(ACCOUNT_ID, AwsClients(session, aws.url), settings, clock or OffsetClock())
    return run, counter


def noop_scan(aws: EmbeddedAws, users: int) -> tuple[Measured, Measured]:
    """A daily run where nothing is due: credential report vs per-user listing."""
    aws.reset()
    populate(users)
    run, counter = account(aws)
    started = time.perf_counter()
    by_report = run.rotator(run.report_directory(80)).run()
    report = Measured(time.perf_counter() - started, counter)
    run, counter = account(aws)
    started = time.perf_counter()
    per_user = run.rotator().run()
    listing = Measured(time.perf_counter() - started, counter)
    assert by_report.users == (), "a no-op scan looked at users"
    assert {u.status for u in per_user.users} == {Status.UNCHANGED}
    assert len(per_user.users) == users
    return report, listing


def topic(aws: EmbeddedAws) -> str:
    return str(aws.client("sns").create_topic(Name="keyturn")["TopicArn"])


def lifecycle(aws: EmbeddedAws) -> list[tuple[str, CallCounter]]:
    """AWS calls of each run in one user's lifecycle, as the fan-out worker makes them."""
    aws.reset()
    (name,) = populate(1, age_days=85)
    clock = OffsetClock()
    arn = topic(aws)
    phases = []
    for label, day, expected in (
        ("rotate (day 0)", 0, "create"),
        ("warn (day 6)", 6, "warn"),
        ("deactivate (day 7)", 7, "deactivate"),
        ("delete (day 14)", 14, "delete"),
    ):
        clock.offset = timedelta(days=day, minutes=5)
        run, counter = account(aws, clock, arn)
        with counting_new_sessions(counter):
            result = run.user_rotator([name]).run()
        done = [d.action.kind.value for d in result.users[0].done]
        assert done == [expected], f"{label}: {done}"
        phases.append((label, counter))
    return phases


def keyturn_rotations(aws: EmbeddedAws, users: int) -> Measured:
    """A report-driven run over ``users`` due users, notifying SNS."""
    aws.reset()
    populate(users, age_days=85)
    run, counter = account(aws, topic=topic(aws))
    started = time.perf_counter()
    with counting_new_sessions(counter):
        result = run.rotator(run.report_directory(80)).run()
    seconds = time.perf_counter() - started
    changed = sum(u.status is Status.CHANGED for u in result.users)
    assert changed == users, f"only {changed} of {users} rotated"
    return Measured(seconds, counter)


def recipe_rotations(aws: EmbeddedAws, users: int) -> Measured:
    """The original recipe's handler, called once per user (clients made once, as when warm)."""
    aws.reset()
    names = populate(users, age_days=85)
    arn = topic(aws)
    session: boto3.Session = aws.session()
    counter = CallCounter().attach(session)
    iam = session.client("iam", endpoint_url=aws.url)
    sns = session.client("sns", endpoint_url=aws.url)
    started = time.perf_counter()
    for name in names:
        answer = original_recipe.lambda_handler(
            {"action": "create", "username": name}, iam, sns, arn
        )
        assert answer["statusCode"] == 200
    return Measured(time.perf_counter() - started, counter)


def retire_pass(aws: EmbeddedAws, users: int, in_grace: int) -> tuple[Measured, int]:
    """An hourly retirement pass over ``users`` users of which ``in_grace`` were rotated a day
    ago (their previous key in its grace period, the consumer not switched yet): the AWS calls
    of one pass. Returns the measurement and how many users the pass looked at."""
    aws.reset()
    populate(users - in_grace)
    rotated = populate(in_grace, age_days=85, prefix="grace")
    run, _ = account(aws)
    result = run.user_rotator(rotated).run()
    assert all(u.status is Status.CHANGED for u in result.users), "setup rotations failed"
    run, counter = account(aws, OffsetClock(timedelta(days=1)))
    started = time.perf_counter()
    passed = run.rotator().retire()
    measured = Measured(time.perf_counter() - started, counter)
    assert {u.user_name for u in passed.users} == set(rotated), "the pass looked at others"
    return measured, len(passed.users)
