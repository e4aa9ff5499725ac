"""The rotation policy and its per-user overrides from IAM user tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from keyturn.core.deadlines import RunClock
from keyturn.core.ses_smtp import parse_region
from keyturn.errors import ConfigurationError

TAG_MANAGED = "keyturn:managed"
TAG_EXEMPT = "keyturn:exempt"
TAG_ROTATE_AFTER_DAYS = "keyturn:rotate-after-days"
TAG_GRACE_DAYS = "keyturn:grace-days"
TAG_DELETE_AFTER_DAYS = "keyturn:delete-after-days"
TAG_OWNER = "keyturn:owner"
TAG_MAX_ACTIVE_DAYS = "keyturn:max-active-days"
TAG_SES_SMTP_REGION = "keyturn:ses-smtp-region"

MAX_DAYS = 3650
COMPLIANCE_MAX_AGE_DAYS = 90


@dataclass(frozen=True)
class Floors:
    """The shortest schedule a user's ``keyturn:*`` tags may ask for.

    Whoever may tag a user could otherwise rotate its keys every day or retire the old key at
    once; tags can lengthen the operator's schedule but never shorten it below these. The grace
    floor is :attr:`Policy.min_grace_days`, which also bounds a grace the cap shortens.
    """

    rotate_after_days: int = 30
    delete_after_days: int = 1

    def __post_init__(self) -> None:
        _check_days("the rotation floor", self.rotate_after_days, minimum=1)
        _check_days("the deletion floor", self.delete_after_days, minimum=0)


@dataclass(frozen=True)
class Policy:
    """When keys are rotated, deactivated and deleted.

    The defaults keep every active key at most 90 days old (Security Hub IAM.3, CIS) with a
    daily run: rotate at 80 days, deactivate the replaced key 7 days later (87), delete it 7
    days after that. Every deadline is kept on the run clock (:mod:`keyturn.core.deadlines`):
    with daily runs at the same time of day, each lands on the run exactly that many days on.

    Attributes:
        rotate_after_days: age of the current key that triggers a rotation.
        grace_days: days the replaced key stays active after the new one was stored.
        delete_after_days: days a deactivated key can still be restored before deletion.
        exempt: never touch the user's keys, only report them.
        delete_foreign_keys: allow deleting inactive keys keyturn did not create, to make room.
        max_run: longest possible run; a creation in flight for longer has crashed.
        force_cooldown: an on-demand rotation within this time of the last one creates nothing.
        warn_before: how long before the previous key's deactivation (its grace period's end,
            or its cap) the "deactivation coming" reminder goes out; zero (the default) sends
            none. The rotation notice already names the run
            that deactivates the replaced key, and a key still in use is postponed, not cut
            off, so the reminder is opt-in (``KEYTURN_WARN_BEFORE_DAYS``): it costs two calls
            (the notice and its once-only mark) per rotation.
        max_active_days: the cap on a previous key's age (counted from its creation). When
            enforced, its deactivation never comes later than the last run before it: a key in
            use is postponed no further, and a grace period that would outlast it (a key first
            seen near the cap) ends at the cap instead, though never sooner than
            ``min_grace_days`` after the new key was stored.
        enforce_max_age: keep the cap; when off, a key in use is postponed (the owner told) for
            as long as it is in use, and the grace period always runs in full.
        min_grace_days: the operator's floor on a grace period the cap shortens: a key first
            seen near or past the cap keeps working this long after its successor was stored
            (never longer than ``grace_days``), so a consumer has at least one run to switch.
            A key already past the cap is retired on this shortest schedule, and the plan
            says so, with the date.
        early_retire: deactivate the previous key before the grace period ends once the
            consumer demonstrably switched (two active keys fail CIS "one active key").
        usage_granularity: how coarsely IAM records a key's last use; every comparison with
            ``last_used`` allows this much.
        renotify_after: how often the owner hears again that a deactivation is postponed.
        run_interval: how often keyturn runs (daily). A deadline falling between two runs is
            a wait (grace, restore window) kept by the first run at or after it, or a limit
            (rotation age, cap) kept by the last run before it. None or zero: no schedule, and
            deadlines are exact timestamps (rotation and cap included).
        run_tolerance: how far a run may stray from its place in the schedule; a deadline
            within this of a run counts as that run's. A wait may end this much early in
            wall-clock time (never a run early); a limit may be overrun by this much. Under
            half of ``run_interval``.
        lead_time: start a consumer's rotation early enough that its usual switch delay plus
            ``lead_margin_days`` fits before the cap (see :mod:`keyturn.core.lead`); only
            when the cap is enforced.
        lead_floor_days: the earliest age at which lead time may rotate a key.
        lead_margin_days: days added to the consumer's usual switch delay.
        floors: the shortest rotation and deletion schedule user tags may set
            (``max_active_days`` may only be lengthened by a tag; the grace floor for tags is
            ``min_grace_days``).
        ses_smtp_region: from the user's ``keyturn:ses-smtp-region`` tag: every key stored
            for the user carries its SES SMTP credentials for this region too
            (:mod:`keyturn.core.ses_smtp`). None: the secret holds the key only.
    """

    rotate_after_days: int = 80
    grace_days: int = 7
    delete_after_days: int = 7
    exempt: bool = False
    delete_foreign_keys: bool = False
    max_run: timedelta = timedelta(minutes=15)
    force_cooldown: timedelta = timedelta(hours=1)
    warn_before: timedelta = timedelta(0)
    max_active_days: int = COMPLIANCE_MAX_AGE_DAYS
    enforce_max_age: bool = True
    early_retire: bool = True
    usage_granularity: timedelta = timedelta(minutes=15)
    renotify_after: timedelta = timedelta(hours=20)
    run_interval: timedelta | None = timedelta(days=1)
    run_tolerance: timedelta = timedelta(minutes=5)
    min_grace_days: int = 1
    lead_time: bool = True
    lead_floor_days: int = 30
    lead_margin_days: int = 2
    floors: Floors = field(default_factory=Floors)
    ses_smtp_region: str | None = None

    def __post_init__(self) -> None:
        _check_days("rotate_after_days", self.rotate_after_days, minimum=1)
        _check_days("max_active_days", self.max_active_days, minimum=1)
        _check_days("grace_days", self.grace_days, minimum=0)
        _check_days("delete_after_days", self.delete_after_days, minimum=0)
        _check_days("min_grace_days", self.min_grace_days, minimum=0)
        if self.warn_before < timedelta(0):
            raise ConfigurationError("warn_before must not be negative")
        _check_days("lead_floor_days", self.lead_floor_days, minimum=1)
        _check_days("lead_margin_days", self.lead_margin_days, minimum=0)
        self.clock  # noqa: B018 - validates the interval and tolerance

    @property
    def clock(self) -> RunClock:
        """The run clock every deadline of this policy is kept on."""
        return RunClock(self.run_interval, self.run_tolerance)

    def with_overrides(
        self, *, grace_days: int | None = None, delete_after_days: int | None = None
    ) -> Policy:
        """This policy with a one-off schedule for the next rotation."""
        return replace(
            self,
            grace_days=self.grace_days if grace_days is None else grace_days,
            delete_after_days=(
                self.delete_after_days if delete_after_days is None else delete_after_days
            ),
        )

    def for_user(self, user_name: str, tags: Mapping[str, str]) -> Policy:
        """This policy with the user's ``keyturn:*`` tag overrides applied.

        Raises:
            ConfigurationError: a tag holds a value keyturn cannot use.
        """
        floors = self.floors
        try:
            return replace(
                self,
                rotate_after_days=_tag_days(
                    tags, TAG_ROTATE_AFTER_DAYS, self.rotate_after_days, floors.rotate_after_days
                ),
                grace_days=_tag_days(tags, TAG_GRACE_DAYS, self.grace_days, self.min_grace_days),
                delete_after_days=_tag_days(
                    tags, TAG_DELETE_AFTER_DAYS, self.delete_after_days, floors.delete_after_days
                ),
                exempt=_tag_flag(tags, TAG_EXEMPT, default=self.exempt),
                max_active_days=_tag_days(
                    tags, TAG_MAX_ACTIVE_DAYS, self.max_active_days, self.max_active_days
                ),
                ses_smtp_region=_tag_region(tags, TAG_SES_SMTP_REGION, self.ses_smtp_region),
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"user {user_name}: {exc}") from None

    @property
    def rotation_days(self) -> int:
        """The age at which a key is rotated: ``rotate_after_days``, or with the cap enforced
        no later than ``max_active_days`` less the floor, so that a key rotated on time is
        deactivated by its cap even if its consumer never lets go."""
        if not self.enforce_max_age:
            return self.rotate_after_days
        floor = min(self.min_grace_days, self.grace_days)
        return max(1, min(self.rotate_after_days, self.max_active_days - floor))

    @property
    def longest_active_days(self) -> int:
        """The oldest a key keyturn rotated on schedule gets, to within the run tolerance, when
        its consumer switches within the grace period (or the cap is enforced).

        On the run clock a rotation lands on the run at ``rotate_after_days`` and the grace
        ends on the run ``grace_days`` later; without a schedule each may slip up to one run
        (counted as a day here).
        """
        days = self.rotate_after_days + self.grace_days
        if self.enforce_max_age:
            floor = self.rotate_after_days + min(self.min_grace_days, self.grace_days)
            days = min(days, max(self.max_active_days, floor))
        return days if self.clock.scheduled else days + 2


def parse_flag(name: str, raw: str) -> bool:
    """Read ``true``/``false`` (any case); anything else is a configuration error."""
    value = raw.strip().lower()
    if value in {"true", "false"}:
        return value == "true"
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def parse_days(name: str, raw: str, *, minimum: int = 0) -> int:
    """Read a whole number of days within keyturn's bounds: ASCII digits only (``"²"`` and
    ``"٣"`` pass ``str.isdigit`` and are refused here), at most four of them."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise ConfigurationError(f"{name} must be a whole number of days, not {raw!r}")
    days = int(text)
    _check_days(name, days, minimum=minimum)
    return days


def _check_days(name: str, days: int, *, minimum: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise ConfigurationError(f"{name} must be a whole number of days")
    if not minimum <= days <= MAX_DAYS:
        raise ConfigurationError(f"{name} must be between {minimum} and {MAX_DAYS}, not {days}")


def _tag_days(tags: Mapping[str, str], tag: str, default: int, floor: int) -> int:
    """A tag's days, refused below ``floor``: tags lengthen the schedule, never shorten it."""
    if tag not in tags:
        return default
    days = parse_days(f"tag {tag}", tags[tag], minimum=0)
    if days < floor:
        raise ConfigurationError(
            f"tag {tag}={days} is below the operator's floor of {floor} days; "
            "tags may lengthen keyturn's schedule, never shorten it"
        )
    return days


def _tag_region(tags: Mapping[str, str], tag: str, default: str | None) -> str | None:
    return parse_region(tags[tag], f"tag {tag}") if tag in tags else default


def _tag_flag(tags: Mapping[str, str], tag: str, *, default: bool) -> bool:
    return parse_flag(f"tag {tag}", tags[tag]) if tag in tags else default
