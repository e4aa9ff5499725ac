"""Issue 6.6: a simulated compliance year on the pure core and the in-memory fakes.

A fleet of users, each with one consumer (the application holding the key), lives through
daily keyturn runs on a :class:`~keyturn.memory.ManualClock`:

* 03:00 keyturn runs (``Rotator.run`` on ``InMemoryIam``/``InMemorySecrets``); one delivery in
  fifty fails, as Secrets Manager sometimes does (keyturn removes that key, retries next day);
* 12:00 each consumer that is due switches to the key in AWSCURRENT (a fixed number of days
  after each delivery, or never), then uses its key: IAM's ``last_used`` is updated, or, if the
  key is no longer active, the consumer has an outage-day;
* 23:59 the day is observed: keys with two active keys, active key ages, lost secrets.

Users are managed by tag; some are exempt (reported only) and some start with a second,
inactive key made outside keyturn (the fleet allows deleting such keys to make room).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from keyturn.core.delivery import Delivery, SecretRef
from keyturn.core.models import AccessKey, KeyStatus
from keyturn.core.policy import TAG_EXEMPT, TAG_MANAGED, Policy
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.testing import InMemoryIam, InMemorySecrets, ManualClock, RecordingNotifier

START = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
RUN_TO_USE = timedelta(hours=9)
USE_TO_OBSERVE = timedelta(hours=11, minutes=59)
SWITCH_DELAYS = (0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 8, 10, 14, 18, 21, 25, 30)
"""Days a consumer takes to pick up a new key; one in NEVER_SHARE never does, and one in
ERRATIC_SHARE draws a new delay for each rotation."""
NEVER_SHARE = 20
ERRATIC_SHARE = 15
EXEMPT_SHARE = 25
TWO_KEY_SHARE = 10
DELIVERY_FAULT_RATE = 0.02
"""Share of secret deliveries that fail (keyturn removes the new key and retries next day)."""


@dataclass
class FlakySecrets(InMemorySecrets):
    """An in-memory secret store whose deliveries fail at random, independently."""

    rng: random.Random = field(default_factory=random.Random)
    failure_rate: float = 0.0
    failures: int = 0

    def stage(self, delivery: Delivery) -> SecretRef:
        if self.rng.random() < self.failure_rate:
            self.failures += 1
            self.fail_deliveries = 1
        return super().stage(delivery)


@dataclass(frozen=True)
class Schedule:
    """Rotate at ``rotate`` days, deactivate the old key ``grace`` days later, delete after
    ``delete`` more: shown as rotate/deactivate/delete ages, e.g. 80/87/94. A previous key
    still in use is kept up to ``cap`` days of age (issue 5's ``max_active_days``)."""

    rotate: int
    grace: int
    delete: int
    cap: int = Policy().max_active_days
    enforce: bool = True
    """Deactivate an in-use key at the cap; off for the comparison schedules, which model
    tools that keep the full grace whatever the key's age."""
    hourly: bool = False
    """Run the retirement pass every hour between the daily runs (issue 10.3)."""
    lead: bool = False
    """Consumer-aware lead time (issue 10.4)."""
    warm_up_days: int = 0
    """Days keyturn runs before the year is measured: an established deployment, which has
    seen its consumers switch before (lead time learns from that)."""

    def __str__(self) -> str:
        ages = f"{self.rotate}/{self.rotate + self.grace}/{self.rotate + self.grace + self.delete}"
        extra = "" if self.cap == Policy().max_active_days else f" cap {self.cap}"
        extra += " +hourly" if self.hourly else ""
        extra += " +lead" if self.lead else ""
        return ages + extra + (" (2nd year)" if self.warm_up_days else "")

    def policy(self) -> Policy:
        return Policy(
            rotate_after_days=self.rotate,
            grace_days=self.grace,
            delete_after_days=self.delete,
            delete_foreign_keys=True,
            max_active_days=self.cap,
            enforce_max_age=self.enforce,
            lead_time=self.lead,
        )


@dataclass
class Consumer:
    """The application that holds one user's key."""

    user: str
    delay: int | None
    key_id: str
    switch_on: tuple[int, str] | None = None
    erratic: bool = False
    switched_once: bool = False

    def switches_within(self, grace: int) -> bool:
        return not self.erratic and self.delay is not None and self.delay < grace


@dataclass
class YearFigures:
    schedule: Schedule
    users: int = 0
    exempt: int = 0
    max_active_age: float = 0.0
    outage_days: Counter[str] = field(default_factory=Counter)
    two_active_days: dict[str, int] = field(default_factory=dict)
    rotation_delay: dict[str, int | None] = field(default_factory=dict)
    lost_secrets: set[str] = field(default_factory=set)
    notifications: Counter[str] = field(default_factory=Counter)
    delivery_faults: int = 0
    learned_outage_days: int = 0
    """Outage-days of stable late consumers after their first switch (lead time's target)."""
    stored: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    """Per rotation (new key): when it was stored, and the active key it replaced."""
    first_use: dict[str, datetime] = field(default_factory=dict)
    deactivated: dict[str, datetime] = field(default_factory=dict)

    def switch_excess_hours(self) -> list[float]:
        """Per rotation whose consumer switched while the old key was active: hours both keys
        stayed active after the consumer's first use of the new key."""
        excess = []
        for new, (_, old) in self.stored.items():
            used, off = self.first_use.get(new), self.deactivated.get(old)
            if used is not None and off is not None and off >= used:
                excess.append((off - used) / timedelta(hours=1))
        return excess

    @property
    def rotations(self) -> int:
        return len(self.rotation_delay)

    def two_active_excess(self) -> list[int]:
        """For each rotation whose consumer switched: two-active days beyond delay + 1."""
        return [
            self.two_active_days.get(key, 0) - (delay + 1)
            for key, delay in self.rotation_delay.items()
            if delay is not None
        ]


@dataclass
class RecordingIam(InMemoryIam):
    """In-memory IAM that remembers when each key was first deactivated."""

    deactivated: dict[str, datetime] = field(default_factory=dict)

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None:
        if status is KeyStatus.INACTIVE:
            self.deactivated.setdefault(key_id, self.clock.now())
        super().set_key_status(user_name, key_id, status)


@dataclass
class FleetYear:
    """One fleet, one schedule, one year."""

    schedule: Schedule
    users: int = 200
    days: int = 365
    seed: int = 6

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - a reproducible simulation
        self.clock = ManualClock(START)
        self.iam = RecordingIam(self.clock)
        self.secrets = FlakySecrets(rng=self.rng, failure_rate=DELIVERY_FAULT_RATE)
        self.notifier = RecordingNotifier()
        # Users opt in with keyturn:managed=true, as with the template's ManageTaggedUsers=true.
        # One user at a time, unpaced: the year measures the policy, not the engine, and its
        # seeded faults must fall on the same calls in every run (threads would reorder them).
        settings = Settings(
            policy=self.schedule.policy(),
            scope=Scope(manage_tagged=True),
            concurrency=1,
            users_in_flight=1,
            iam_writes_per_second=0,
        )
        self.rotator = Rotator(
            self.iam, self.iam, self.secrets, self.notifier, self.clock, settings, "sim"
        )
        self.consumers: dict[str, Consumer] = {}
        self.figures = YearFigures(self.schedule)
        self._current: dict[str, str | None] = {}
        self._sent_before = 0
        self._faults_before = 0

    def run(self) -> YearFigures:
        self._populate()
        for day in range(self.schedule.warm_up_days + self.days):
            if day == self.schedule.warm_up_days and day:
                self._start_measuring()
            midnight = START.replace(hour=0) + timedelta(days=day)
            self._keyturn_runs(day)
            self._retire_until(midnight + timedelta(hours=12))
            self.clock.current = START + timedelta(days=day) + RUN_TO_USE
            self._consumers_work(day)
            self._retire_until(midnight + timedelta(hours=23))
            self.clock.current = START + timedelta(days=day) + RUN_TO_USE + USE_TO_OBSERVE
            self._observe()
            self._retire_until(midnight + timedelta(hours=26))
            self.clock.current = START + timedelta(days=day + 1)
        sent = self.notifier.sent[self._sent_before :]
        self.figures.notifications.update(n.kind.value for n in sent)
        self.figures.deactivated = dict(self.iam.deactivated)
        return self.figures

    def _start_measuring(self) -> None:
        """Forget the figures of the warm-up: the year is measured from here."""
        self.figures = YearFigures(
            self.schedule, users=self.figures.users, exempt=self.figures.exempt
        )
        self._sent_before = len(self.notifier.sent)
        self._faults_before = self.secrets.failures

    def _retire_until(self, last: datetime) -> None:
        """The hourly retirement pass, on each whole hour after now up to ``last``."""
        if not self.schedule.hourly:
            return
        hour = self.clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while hour <= last:
            self.clock.current = hour
            self.rotator.retire()
            hour += timedelta(hours=1)

    # The fleet ---------------------------------------------------------------------------

    def _populate(self) -> None:
        for index in range(self.users):
            name = f"user{index:04d}"
            exempt = index % EXEMPT_SHARE == 0
            tags = {TAG_MANAGED: "true"} | ({TAG_EXEMPT: "true"} if exempt else {})
            self.iam.add_user(name, tags=tags)
            key = self.iam.add_key(name, age_days=self.rng.uniform(0, 79))
            if index % TWO_KEY_SHARE == 1:
                self.iam.add_key(name, age_days=200, status=KeyStatus.INACTIVE)
            never = index % NEVER_SHARE == 3
            delay = None if never else self.rng.choice(SWITCH_DELAYS)
            erratic = not never and index % ERRATIC_SHARE == 7
            self.consumers[name] = Consumer(name, delay, key.key_id, erratic=erratic)
            self._current[name] = None
        self.figures.users = self.users
        self.figures.exempt = sum(1 for i in range(self.users) if i % EXEMPT_SHARE == 0)

    # 03:00 -------------------------------------------------------------------------------

    def _keyturn_runs(self, day: int) -> None:
        self._record_ages()
        self.rotator.run()
        self.figures.delivery_faults = self.secrets.failures - self._faults_before
        for name, consumer in self.consumers.items():
            state = self.secrets.read_state(name)
            current = state.current_key_id if state else None
            if current is not None and current != self._current[name]:
                self._current[name] = current
                if consumer.erratic:
                    consumer.delay = self.rng.choice(SWITCH_DELAYS)
                self.figures.rotation_delay[current] = consumer.delay
                self._stored(name, current)
                if consumer.delay is not None:
                    consumer.switch_on = (day + consumer.delay, current)

    def _stored(self, name: str, current: str) -> None:
        state = self.secrets.read_state(name)
        old = state.previous_key_id if state else None
        replaced = self._key(name, old) if old else None
        if state is not None and state.stored_at and replaced is not None and replaced.active:
            self.figures.stored[current] = (state.stored_at, replaced.key_id)

    def _record_ages(self) -> None:
        """Just before the run: the oldest each active key gets."""
        now = self.clock.now()
        for name in self._managed():
            for key in self.iam.keys[name]:
                if key.active:
                    age = (now - key.created) / timedelta(days=1)
                    self.figures.max_active_age = max(self.figures.max_active_age, age)

    # 12:00 -------------------------------------------------------------------------------

    def _consumers_work(self, day: int) -> None:
        now = self.clock.now()
        for name, consumer in self.consumers.items():
            if consumer.switch_on is not None and consumer.switch_on[0] <= day:
                self._switch(consumer)
            key = self._key(name, consumer.key_id)
            if key is not None and key.active:
                self._used(name, key, now)
                self.figures.first_use.setdefault(key.key_id, now)
            else:
                category = self._category(consumer)
                self.figures.outage_days[category] += 1
                if category == "switch after grace" and consumer.switched_once:
                    self.figures.learned_outage_days += 1

    def _switch(self, consumer: Consumer) -> None:
        consumer.switch_on = None
        doc = self.secrets.secrets[consumer.user].staged("AWSCURRENT")
        if doc is None:
            return
        key_id = doc["AccessKeyId"]
        if self.iam.issued[key_id].reveal() != doc["SecretAccessKey"]:
            self.figures.lost_secrets.add(key_id)
        consumer.switched_once = consumer.switched_once or key_id != consumer.key_id
        consumer.key_id = key_id

    def _used(self, name: str, key: AccessKey, now: datetime) -> None:
        self.iam.keys[name] = [
            replace(k, last_used=now) if k.key_id == key.key_id else k for k in self.iam.keys[name]
        ]

    def _category(self, consumer: Consumer) -> str:
        if consumer.delay is None:
            return "never switch"
        if consumer.erratic:
            return "erratic"
        if consumer.switches_within(self.schedule.grace):
            return "switch within grace"
        return "switch after grace"

    # 23:59 -------------------------------------------------------------------------------

    def _observe(self) -> None:
        for name in self._managed():
            keys = self.iam.keys[name]
            active = [k for k in keys if k.active]
            if len(active) == 2 and (current := self._current[name]) is not None:
                days = self.figures.two_active_days
                days[current] = days.get(current, 0) + 1
            delivered = self._delivered(name)
            for key in keys:
                if key.key_id in self.iam.issued and key.key_id not in delivered:
                    self.figures.lost_secrets.add(key.key_id)

    def _delivered(self, name: str) -> set[str]:
        secret = self.secrets.secrets.get(name)
        if secret is None:
            return set()
        return {doc["AccessKeyId"] for _, doc, stages in secret.versions if stages}

    def _managed(self) -> list[str]:
        return [n for n, u in self.iam.users.items() if u.tags.get(TAG_EXEMPT) != "true"]

    def _key(self, name: str, key_id: str) -> AccessKey | None:
        return next((k for k in self.iam.keys[name] if k.key_id == key_id), None)
