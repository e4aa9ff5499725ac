"""How much proof a new key needs before promotion, and the outcome of proving one.

New IAM keys usually authenticate 5-10 s after creation, sometimes later, and one success does
not prove every endpoint knows the key. So a key is verified only after ``successes``
consecutive accepted probes spanning at least ``min_window``, all within ``budget``. The probe
loop itself is :class:`keyturn.rotation.proof.Prover`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.errors import ConfigurationError


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
