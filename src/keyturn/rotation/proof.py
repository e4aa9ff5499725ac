"""The probe loop that proves a new key works before it is promoted.

The key must satisfy :class:`~keyturn.core.verification.VerificationPolicy`: several
consecutive accepted probes over a window; a rejection starts the count again. The waits between
probes are a poll interval (the sleeper is injected, so tests do not wait), not retries of a
failed call: each probe is one attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from keyturn.core.delivery import StoredKey
from keyturn.core.models import mask_key_id
from keyturn.core.verification import Verification, VerificationPolicy
from keyturn.rotation.ports import Clock, KeyVerifier

log = logging.getLogger(__name__)

Sleeper = Callable[[float], None]


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
