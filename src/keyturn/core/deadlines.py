"""The run clock: deadlines compared against keyturn's schedule of runs, not against the second.

keyturn runs every ``interval`` (daily by default). Its deadlines are timestamps taken a few
seconds into a run (a key's creation, the storing of its successor, a deactivation) plus whole
days. Compared to the second, a deadline stamped at 03:00:07 is missed by the run that starts
at 03:00:02 seven days later, and the action slips a whole run. The run clock compares against
the schedule instead, with two kinds of deadline:

* a **wait** ("not before": a grace period, a restore window, the grace floor) is over on the
  run that lands no more than ``tolerance`` before its end; never earlier;
* a **limit** ("no later than": the rotation age) is kept by the last run before it: a run
  acts unless the next one, ``interval`` later, still lands no more than ``tolerance`` after
  the limit;
* a **hard limit** (the ``max_active_days`` cap: compliance allows no overrun at all) is kept
  by the last run that is surely before it: a run acts if the next one, coming up to
  ``tolerance`` late, could land after it. A key whose cap falls on a run's slot therefore goes
  one run early rather than seconds late.

``tolerance`` is how far a run may stray from its place in the schedule, measured against the
run that stamped a deadline: the seconds between a run's start and its stamp, and the
scheduler's and Lambda's start jitter. While runs keep within it, a wait of *n* intervals ends
on the run exactly *n* intervals after the one that stamped it (in wall-clock time up to
``tolerance`` short, never a run short), and a limit is overrun by at most ``tolerance`` (plus
however late the next run comes beyond its interval). It must be under half the interval, so a
deadline belongs to one run only.

Without a schedule (``interval`` None or zero: on-demand use only) there is no next run to
look ahead to: deadlines are exact timestamps, a wait is over once it has ended, a limit is
acted on once reached, and ``tolerance`` is not used. That is keyturn's behaviour before the
run clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.errors import ConfigurationError


@dataclass(frozen=True)
class RunClock:
    """keyturn's schedule: a run every ``interval`` (None: no schedule), within ``tolerance``."""

    interval: timedelta | None = timedelta(days=1)
    tolerance: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.interval is not None and self.interval < timedelta(0):
            raise ConfigurationError("the run interval must not be negative")
        if self.tolerance < timedelta(0):
            raise ConfigurationError("the run tolerance must not be negative")
        if self.interval and self.tolerance * 2 >= self.interval:
            raise ConfigurationError(
                f"the run tolerance ({self.tolerance}) must be under half the run interval "
                f"({self.interval}), so that a deadline belongs to one run only"
            )

    @property
    def scheduled(self) -> bool:
        """False for on-demand use: deadlines are then exact timestamps."""
        return bool(self.interval)

    def waited(self, end: datetime, now: datetime) -> bool:
        """True if the wait ending at ``end`` is over on the run at ``now``."""
        if not self.interval:
            return now >= end
        return now >= end - self.tolerance

    def last_call(self, limit: datetime, now: datetime) -> bool:
        """True if the run at ``now`` must act to keep ``limit``: the next run would be late."""
        if not self.interval:
            return now >= limit
        return now + self.interval > limit + self.tolerance

    def last_sure_call(self, limit: datetime, now: datetime) -> bool:
        """True if the run at ``now`` must act to keep the hard ``limit``: the next run, up to
        ``tolerance`` late, could land after it."""
        if not self.interval:
            return now >= limit
        return now + self.interval + self.tolerance > limit

    def run_surely_before(self, limit: datetime, now: datetime) -> datetime:
        """The run (``now``, ``now + interval``, ...) that acts to keep the hard ``limit``."""
        if not self.interval:
            return max(now, limit)
        if self.last_sure_call(limit, now):
            return now
        return now + ((limit - self.tolerance - now) // self.interval) * self.interval

    def run_after_wait(self, end: datetime, now: datetime) -> datetime:
        """The run (``now``, ``now + interval``, ...) on which the wait ending at ``end`` is over.

        Without a schedule: ``end`` itself, or ``now`` once it has passed.
        """
        if not self.interval:
            return max(now, end)
        if self.waited(end, now):
            return now
        runs = -((now - end + self.tolerance) // self.interval)  # ceiling division
        return now + runs * self.interval

    def run_before_limit(self, limit: datetime, now: datetime) -> datetime:
        """The run (``now``, ``now + interval``, ...) that acts to keep ``limit``.

        Without a schedule: ``limit`` itself, or ``now`` once it has passed.
        """
        if not self.interval:
            return max(now, limit)
        if self.last_call(limit, now):
            return now
        return now + ((limit + self.tolerance - now) // self.interval) * self.interval
