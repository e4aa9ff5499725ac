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
SWITCH_DELAYS = (0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 8, 10, 14)
"""Days a consumer takes to pick up a new key; one in NEVER_SHARE never does."""
NEVER_SHARE = 20
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

    def __str__(self) -> str:
        ages = f"{self.rotate}/{self.rotate + self.grace}/{self.rotate + self.grace + self.delete}"
        return ages if self.cap == Policy().max_active_days else f"{ages} cap {self.cap}"

    def policy(self) -> Policy:
        return Policy(
            rotate_after_days=self.rotate,
            grace_days=self.grace,
            delete_after_days=self.delete,
            delete_foreign_keys=True,
            max_active_days=self.cap,
            enforce_max_age=self.enforce,
        )


@dataclass
class Consumer:
    """The application that holds one user's key."""

    user: str
    delay: int | None
    key_id: str
    switch_on: tuple[int, str] | None = None

    def switches_within(self, grace: int) -> bool:
        return self.delay is not None and self.delay < grace


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
class FleetYear:
    """One fleet, one schedule, one year."""

    schedule: Schedule
    users: int = 200
    days: int = 365
    seed: int = 6

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - a reproducible simulation
        self.clock = ManualClock(START)
        self.iam = InMemoryIam(self.clock)
        self.secrets = FlakySecrets(rng=self.rng, failure_rate=DELIVERY_FAULT_RATE)
        self.notifier = RecordingNotifier()
        # Users opt in with keyturn:managed=true, as with the template's ManageTaggedUsers=true.
        settings = Settings(policy=self.schedule.policy(), scope=Scope(manage_tagged=True))
        self.rotator = Rotator(
            self.iam, self.iam, self.secrets, self.notifier, self.clock, settings, "sim"
        )
        self.consumers: dict[str, Consumer] = {}
        self.figures = YearFigures(self.schedule)
        self._current: dict[str, str | None] = {}

    def run(self) -> YearFigures:
        self._populate()
        for day in range(self.days):
            self._keyturn_runs(day)
            self.clock.advance(seconds=RUN_TO_USE.total_seconds())
            self._consumers_work(day)
            self.clock.advance(seconds=USE_TO_OBSERVE.total_seconds())
            self._observe()
            self.clock.current = START + timedelta(days=day + 1)
        self.figures.notifications.update(n.kind.value for n in self.notifier.sent)
        return self.figures

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
            self.consumers[name] = Consumer(name, delay, key.key_id)
            self._current[name] = None
        self.figures.users = self.users
        self.figures.exempt = sum(1 for i in range(self.users) if i % EXEMPT_SHARE == 0)

    # 03:00 -------------------------------------------------------------------------------

    def _keyturn_runs(self, day: int) -> None:
        self._record_ages()
        self.rotator.run()
        self.figures.delivery_faults = self.secrets.failures
        for name, consumer in self.consumers.items():
            state = self.secrets.read_state(name)
            current = state.current_key_id if state else None
            if current is not None and current != self._current[name]:
                self._current[name] = current
                self.figures.rotation_delay[current] = consumer.delay
                if consumer.delay is not None:
                    consumer.switch_on = (day + consumer.delay, current)

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
            else:
                self.figures.outage_days[self._category(consumer)] += 1

    def _switch(self, consumer: Consumer) -> None:
        consumer.switch_on = None
        doc = self.secrets.secrets[consumer.user].staged("AWSCURRENT")
        if doc is None:
            return
        key_id = doc["AccessKeyId"]
        if self.iam.issued[key_id].reveal() != doc["SecretAccessKey"]:
            self.figures.lost_secrets.add(key_id)
        consumer.key_id = key_id

    def _used(self, name: str, key: AccessKey, now: datetime) -> None:
        self.iam.keys[name] = [
            replace(k, last_used=now) if k.key_id == key.key_id else k for k in self.iam.keys[name]
        ]

    def _category(self, consumer: Consumer) -> str:
        if consumer.delay is None:
            return "never switch"
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
