"""Proving a new key works before it is promoted: several consecutive successes over a window.

New IAM keys usually authenticate 5-10 s after creation, sometimes later, and one success does
not prove every endpoint knows the key. So a key is verified only after ``successes``
consecutive accepted probes spanning at least ``min_window``, all within ``budget``; a rejection
starts the count again. The waits between probes are a poll interval (the sleeper is injected,
so tests do not wait), not retries of a failed call: each probe is one attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from keyturn.core.models import mask_key_id
from keyturn.errors import ConfigurationError
from keyturn.ports import Clock, KeyVerifier, StoredKey

log = logging.getLogger(__name__)

Sleeper = Callable[[float], None]


@dataclass(frozen=True)
class VerificationPolicy:
    """How much proof a new key needs.

    Attributes:
        successes: consecutive accepted probes required.
        min_window: the first and last of them must be at least this far apart.
        budget: give up if the proof is not complete this long after the first probe.
        interval: pause between probes.
    """

    successes: int = 3
    min_window: timedelta = timedelta(seconds=15)
    budget: timedelta = timedelta(seconds=60)
    interval: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if self.successes < 1:
            raise ConfigurationError("verification needs at least one success")
        if self.interval <= timedelta(0):
            raise ConfigurationError("the verification interval must be positive")
        if self.budget < self.min_window:
            raise ConfigurationError("the verification budget must cover its window")


@dataclass(frozen=True)
class Verification:
    """The outcome of proving one key."""

    verified: bool
    attempts: int
    started: datetime
    finished: datetime
    last_error: str = ""

    def describe(self) -> str:
        seconds = (self.finished - self.started).total_seconds()
        verdict = "verified" if self.verified else f"not verified ({self.last_error})"
        return f"{verdict} after {self.attempts} attempts in {seconds:.0f} s"


@dataclass
class Prover:
    """Runs the verification loop with an injectable clock and sleeper."""

    verifier: KeyVerifier
    clock: Clock
    sleep: Sleeper
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)

    def prove(self, key: StoredKey, user_name: str) -> Verification:
        """Probe ``key`` until the policy is satisfied or the budget is spent."""
        policy = self.policy
        started = self.clock.now()
        streak_start: datetime | None = None
        streak, attempts, last_error = 0, 0, ""
        while True:
            probe = self.verifier.probe(key)
            attempts += 1
            now = self.clock.now()
            if probe.accepted and _is_user(probe.arn, user_name):
                streak_start = now if streak == 0 else streak_start
                streak += 1
                if streak >= policy.successes and now - (streak_start or now) >= policy.min_window:
                    return Verification(True, attempts, started, now)
            else:
                streak, last_error = 0, probe.code or "authenticated as someone else"
                log.info("key %s not accepted yet: %s", mask_key_id(key.key_id), last_error)
            if now + policy.interval - started > policy.budget:
                return Verification(False, attempts, started, now, last_error or "too few")
            self.sleep(policy.interval.total_seconds())


def _is_user(arn: str, user_name: str) -> bool:
    """True if ``arn`` names the IAM user (any path); an empty ARN is not checked."""
    return not arn or arn.rsplit("/", 1)[-1] == user_name
