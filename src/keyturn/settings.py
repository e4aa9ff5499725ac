"""keyturn's one frozen settings object, resolved only at the edges (handler, CLI).

Precedence: explicit argument, then environment variable, then default. Every environment
variable keyturn reads is named here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from keyturn.core.models import User
from keyturn.core.policy import Floors, Policy, parse_days, parse_flag
from keyturn.core.rollout import (
    ENV_ACT_PATHS,
    ENV_ACT_TAG,
    ENV_ACT_USERS,
    ENV_MODE,
    Mode,
    Rollout,
    parse_act_tag,
)
from keyturn.core.scope import ENV_MANAGE_TAGGED, ENV_USER_PATH, ENV_USERS, Scope
from keyturn.core.secret_trust import function_problem, principal_problem
from keyturn.core.verification import VerificationPolicy
from keyturn.errors import ConfigurationError

ENV_TOPIC_ARN = "KEYTURN_TOPIC_ARN"
ENV_EVENT_BUS = "KEYTURN_EVENT_BUS"
ENV_SECURITY_HUB = "KEYTURN_SECURITY_HUB"
ENV_NOTIFY_INCLUDE_SECRET = "KEYTURN_NOTIFY_INCLUDE_SECRET"
ENV_SECRET_PREFIX = "KEYTURN_SECRET_PREFIX"
ENV_KMS_KEY_ID = "KEYTURN_KMS_KEY_ID"
ENV_TRUSTED_PRINCIPAL_ARNS = "KEYTURN_TRUSTED_PRINCIPAL_ARNS"
ENV_ROTATION_FUNCTION_ARNS = "KEYTURN_ROTATION_FUNCTION_ARNS"
ENV_ROTATE_AFTER_DAYS = "KEYTURN_ROTATE_AFTER_DAYS"
ENV_GRACE_DAYS = "KEYTURN_GRACE_DAYS"
ENV_DELETE_AFTER_DAYS = "KEYTURN_DELETE_AFTER_DAYS"
ENV_DELETE_FOREIGN_KEYS = "KEYTURN_DELETE_FOREIGN_KEYS"
ENV_MAX_ACTIVE_DAYS = "KEYTURN_MAX_ACTIVE_DAYS"
ENV_ENFORCE_MAX_AGE = "KEYTURN_ENFORCE_MAX_AGE"
ENV_EARLY_RETIRE = "KEYTURN_EARLY_RETIRE"
ENV_MIN_ROTATE_AFTER_DAYS = "KEYTURN_MIN_ROTATE_AFTER_DAYS"
ENV_MIN_GRACE_DAYS = "KEYTURN_MIN_GRACE_DAYS"
ENV_WARN_BEFORE_DAYS = "KEYTURN_WARN_BEFORE_DAYS"
ENV_LEAD_TIME = "KEYTURN_LEAD_TIME"
ENV_LEAD_FLOOR_DAYS = "KEYTURN_LEAD_FLOOR_DAYS"
ENV_LEAD_MARGIN_DAYS = "KEYTURN_LEAD_MARGIN_DAYS"
ENV_MIN_DELETE_AFTER_DAYS = "KEYTURN_MIN_DELETE_AFTER_DAYS"
ENV_RUN_INTERVAL_HOURS = "KEYTURN_RUN_INTERVAL_HOURS"
ENV_RUN_TOLERANCE_SECONDS = "KEYTURN_RUN_TOLERANCE_SECONDS"
ENV_VERIFY_SUCCESSES = "KEYTURN_VERIFY_SUCCESSES"
ENV_VERIFY_WINDOW_SECONDS = "KEYTURN_VERIFY_WINDOW_SECONDS"
ENV_VERIFY_BUDGET_SECONDS = "KEYTURN_VERIFY_BUDGET_SECONDS"
ENV_VERIFY_INTERVAL_SECONDS = "KEYTURN_VERIFY_INTERVAL_SECONDS"
ENV_CONCURRENCY = "KEYTURN_CONCURRENCY"
ENV_USERS_IN_FLIGHT = "KEYTURN_USERS_IN_FLIGHT"
ENV_IAM_WRITES_PER_SECOND = "KEYTURN_IAM_WRITES_PER_SECOND"
ENV_REGION = "AWS_REGION"
ENV_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
"""Set by Lambda itself: the function keyturn runs in, whose rotation of a secret is keyturn's."""
# Fleet runs (keyturn.fleet.settings): credential-report scans, Organizations, SQS fan-out.
ENV_SCAN_HORIZON_DAYS = "KEYTURN_SCAN_HORIZON_DAYS"
ENV_ORGANIZATION = "KEYTURN_ORGANIZATION"
ENV_MEMBER_ROLE_NAME = "KEYTURN_MEMBER_ROLE_NAME"
ENV_MEMBER_EXTERNAL_ID = "KEYTURN_MEMBER_EXTERNAL_ID"
ENV_INCLUDE_ACCOUNTS = "KEYTURN_INCLUDE_ACCOUNTS"
ENV_EXCLUDE_ACCOUNTS = "KEYTURN_EXCLUDE_ACCOUNTS"
ENV_INCLUDE_OUS = "KEYTURN_INCLUDE_OUS"
ENV_EXCLUDE_OUS = "KEYTURN_EXCLUDE_OUS"
ENV_QUEUE_URL = "KEYTURN_QUEUE_URL"
ENV_ACT_ACCOUNTS = "KEYTURN_ACT_ACCOUNTS"
ENV_ACT_OUS = "KEYTURN_ACT_OUS"

DEFAULT_SECRET_PREFIX = "keyturn/"
MAX_RUN_INTERVAL_HOURS = 24 * 31
MAX_RUN_TOLERANCE_SECONDS = 12 * 3600
MAX_CONCURRENCY = 64
MAX_USERS_IN_FLIGHT = 1000
"""Each user in flight is a thread, mostly asleep in its key's proof; Lambda allows 1,024."""
MAX_IAM_WRITES_PER_SECOND = 100
EVENT_BUS = re.compile(
    r"(arn:aws[a-z-]*:events:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:event-bus/)?[/.\-_A-Za-z0-9]{1,256}",
    re.ASCII,
)
"""An EventBridge bus name, or a bus ARN (another account's or region's bus)."""
__all__ = [
    "ENV_ACT_PATHS",
    "ENV_ACT_TAG",
    "ENV_ACT_USERS",
    "ENV_MANAGE_TAGGED",
    "ENV_MODE",
    "ENV_USERS",
    "ENV_USER_PATH",
    "Mode",
    "Rollout",
    "Scope",
    "Settings",
]


@dataclass(frozen=True)
class Settings:
    """Everything a keyturn run needs to know, validated once."""

    policy: Policy = field(default_factory=Policy)
    verification: VerificationPolicy = field(default_factory=VerificationPolicy)
    scope: Scope = field(default_factory=Scope)
    secret_prefix: str = DEFAULT_SECRET_PREFIX
    kms_key_id: str | None = None
    trusted_principal_arns: tuple[str, ...] = ()
    """The roles keyturn runs as, named in each secret's policy; empty: the caller's own."""
    rotation_function_arns: tuple[str, ...] = ()
    """Rotation functions that are keyturn's (besides ``function_name``)."""
    function_name: str | None = None
    topic_arn: str | None = None
    event_bus: str | None = None
    """Also put every lifecycle notification on this EventBridge bus (name or ARN)."""
    notify_include_secret: bool = False
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    security_hub: bool = False
    """Import a Security Hub finding per key past the cap, refused and failed user."""
    mode: Mode = Mode.ACT
    """``audit``: plan, report, notify and count as if acting, and change nothing."""
    rollout: Rollout = field(default_factory=Rollout)
    """In act mode, the managed users acted on when any rule is set (the rest are audited)."""
    scan_horizon_days: int | None = None
    """A report-driven run skips keys younger than this (None: the policy's rotate_after_days);
    set it to the lowest ``keyturn:rotate-after-days`` tag in use."""

    concurrency: int = 32
    """Users whose AWS calls a run makes at once (the work slots of ``keyturn.rotation.pool``);
    each call mostly waits on the network and the service, so many overlap."""
    users_in_flight: int = 128
    """Users a run has started and not finished, most of them waiting out their key's proof."""
    iam_writes_per_second: int = 25
    """Client-side pace of IAM writes (create, status, delete) over the whole run; 0: unpaced."""

    @property
    def horizon_days(self) -> int:
        """The credential-report horizon of a run."""
        if self.scan_horizon_days is None:
            return self.policy.rotate_after_days
        return self.scan_horizon_days

    def __post_init__(self) -> None:
        _check_pace(self.concurrency, self.users_in_flight, self.iam_writes_per_second)
        if not self.secret_prefix or len(self.secret_prefix) > 256:
            raise ConfigurationError("the secret prefix must be 1 to 256 characters")
        path = self.scope.user_path
        if path is not None and not (path.startswith("/") and path.endswith("/")):
            raise ConfigurationError(f"{ENV_USER_PATH} must start and end with '/', not {path!r}")
        _check_arns(ENV_TRUSTED_PRINCIPAL_ARNS, self.trusted_principal_arns, principal_problem)
        _check_arns(ENV_ROTATION_FUNCTION_ARNS, self.rotation_function_arns, function_problem)
        if self.event_bus is not None and not (
            len(self.event_bus) <= 1600 and EVENT_BUS.fullmatch(self.event_bus)
        ):
            raise ConfigurationError(
                f"{ENV_EVENT_BUS} must be an EventBridge bus name or ARN, not {self.event_bus!r}"
            )

    def mode_for(self, user: User) -> Mode:
        """``user``'s mode: audit in audit mode; in act mode, act unless rollout rules are set
        and none selects the user (:mod:`keyturn.core.rollout`)."""
        return self.rollout.mode_for(user, self.mode)

    def secret_name(self, user_name: str) -> str:
        return f"{self.secret_prefix}{user_name}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **explicit: object) -> Settings:
        """Settings from environment variables; keyword arguments win over them.

        Raises:
            ConfigurationError: a variable holds a value keyturn cannot use.
        """
        values: dict[str, object] = {
            "policy": _policy_from_env(environ),
            "verification": _verification_from_env(environ),
            "scope": _scope_from_env(environ),
            "secret_prefix": environ.get(ENV_SECRET_PREFIX) or DEFAULT_SECRET_PREFIX,
            "kms_key_id": environ.get(ENV_KMS_KEY_ID) or None,
            "trusted_principal_arns": _listed(environ, ENV_TRUSTED_PRINCIPAL_ARNS),
            "rotation_function_arns": _listed(environ, ENV_ROTATION_FUNCTION_ARNS),
            "function_name": environ.get(ENV_LAMBDA_FUNCTION_NAME) or None,
            "topic_arn": environ.get(ENV_TOPIC_ARN) or None,
            "event_bus": environ.get(ENV_EVENT_BUS) or None,
            "notify_include_secret": _flag(environ, ENV_NOTIFY_INCLUDE_SECRET),
            "region": environ.get(ENV_REGION) or environ.get("AWS_DEFAULT_REGION") or None,
            "endpoint_url": environ.get(ENV_ENDPOINT_URL) or None,
            "security_hub": _flag(environ, ENV_SECURITY_HUB),
            "mode": Mode.parse(ENV_MODE, environ.get(ENV_MODE) or Mode.ACT.value),
            "rollout": Rollout(
                user_names=frozenset(_listed(environ, ENV_ACT_USERS)),
                user_paths=_listed(environ, ENV_ACT_PATHS),
                tag=parse_act_tag(environ.get(ENV_ACT_TAG, "")),
            ),
            "scan_horizon_days": _horizon(environ),
            "concurrency": _whole(environ, ENV_CONCURRENCY, MAX_CONCURRENCY, "users"),
            "users_in_flight": _whole(environ, ENV_USERS_IN_FLIGHT, MAX_USERS_IN_FLIGHT, "users"),
            "iam_writes_per_second": _whole(
                environ, ENV_IAM_WRITES_PER_SECOND, MAX_IAM_WRITES_PER_SECOND, "writes"
            ),
        }
        values = {k: v for k, v in values.items() if v is not None or k not in _PACE}
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _policy_from_env(environ: Mapping[str, str]) -> Policy:
    defaults = Policy()
    return Policy(
        rotate_after_days=_days(environ, ENV_ROTATE_AFTER_DAYS, defaults.rotate_after_days, 1),
        grace_days=_days(environ, ENV_GRACE_DAYS, defaults.grace_days, 0),
        delete_after_days=_days(environ, ENV_DELETE_AFTER_DAYS, defaults.delete_after_days, 0),
        delete_foreign_keys=_flag(environ, ENV_DELETE_FOREIGN_KEYS),
        max_active_days=_days(environ, ENV_MAX_ACTIVE_DAYS, defaults.max_active_days, 1),
        enforce_max_age=_flag(environ, ENV_ENFORCE_MAX_AGE, default=defaults.enforce_max_age),
        early_retire=_flag(environ, ENV_EARLY_RETIRE, default=defaults.early_retire),
        min_grace_days=_days(environ, ENV_MIN_GRACE_DAYS, defaults.min_grace_days, 0),
        warn_before=timedelta(
            days=_days(environ, ENV_WARN_BEFORE_DAYS, defaults.warn_before.days, 0)
        ),
        lead_time=_flag(environ, ENV_LEAD_TIME, default=defaults.lead_time),
        lead_floor_days=_days(environ, ENV_LEAD_FLOOR_DAYS, defaults.lead_floor_days, 1),
        lead_margin_days=_days(environ, ENV_LEAD_MARGIN_DAYS, defaults.lead_margin_days, 0),
        run_interval=_run_interval(environ, defaults.run_interval),
        run_tolerance=_run_tolerance(environ, defaults.run_tolerance),
        floors=_floors_from_env(environ),
    )


_PACE = frozenset({"concurrency", "users_in_flight", "iam_writes_per_second"})


def _check_pace(concurrency: int, in_flight: int, writes: int) -> None:
    """A run's pace must be usable: at least one worker, and room for each in flight."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ConfigurationError(f"{ENV_CONCURRENCY} must be from 1 to {MAX_CONCURRENCY}")
    if not concurrency <= in_flight <= MAX_USERS_IN_FLIGHT:
        raise ConfigurationError(
            f"{ENV_USERS_IN_FLIGHT} must be from {ENV_CONCURRENCY} to {MAX_USERS_IN_FLIGHT}"
        )
    if not 0 <= writes <= MAX_IAM_WRITES_PER_SECOND:
        raise ConfigurationError(
            f"{ENV_IAM_WRITES_PER_SECOND} must be from 0 to {MAX_IAM_WRITES_PER_SECOND}"
        )


def _run_interval(environ: Mapping[str, str], default: timedelta | None) -> timedelta | None:
    """How often keyturn runs (its schedule), in whole hours; 0 means no schedule: deadlines
    are then exact timestamps (see :mod:`keyturn.core.deadlines`)."""
    hours = _whole(environ, ENV_RUN_INTERVAL_HOURS, MAX_RUN_INTERVAL_HOURS, "hours")
    if hours is None:
        return default
    return timedelta(hours=hours) if hours else None


def _run_tolerance(environ: Mapping[str, str], default: timedelta) -> timedelta:
    seconds = _whole(environ, ENV_RUN_TOLERANCE_SECONDS, MAX_RUN_TOLERANCE_SECONDS, "seconds")
    return default if seconds is None else timedelta(seconds=seconds)


def _whole(environ: Mapping[str, str], name: str, maximum: int, unit: str) -> int | None:
    """A whole number from 0 to ``maximum`` in ASCII digits; None when unset or empty."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or int(raw) > maximum:
        raise ConfigurationError(
            f"{name} must be a whole number of {unit} from 0 to {maximum}, not {raw!r}"
        )
    return int(raw)


def _floors_from_env(environ: Mapping[str, str]) -> Floors:
    """The shortest schedule user tags may ask for (see :class:`~keyturn.core.policy.Floors`)."""
    defaults = Floors()
    return Floors(
        rotate_after_days=_days(environ, ENV_MIN_ROTATE_AFTER_DAYS, defaults.rotate_after_days, 1),
        delete_after_days=_days(environ, ENV_MIN_DELETE_AFTER_DAYS, defaults.delete_after_days, 0),
    )


def _verification_from_env(environ: Mapping[str, str]) -> VerificationPolicy:
    defaults = VerificationPolicy()
    return VerificationPolicy(
        successes=_count(environ, ENV_VERIFY_SUCCESSES, defaults.successes),
        min_window=_seconds(environ, ENV_VERIFY_WINDOW_SECONDS, defaults.min_window),
        budget=_seconds(environ, ENV_VERIFY_BUDGET_SECONDS, defaults.budget),
        interval=_seconds(environ, ENV_VERIFY_INTERVAL_SECONDS, defaults.interval),
    )


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 20:
        raise ConfigurationError(f"{name} must be a whole number from 1 to 20, not {raw!r}")
    return int(raw)


def _seconds(environ: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= seconds <= 900:
        raise ConfigurationError(f"{name} must be between 0 and 900 seconds")
    return timedelta(seconds=seconds)


def _listed(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in environ.get(name, "").split(",") if v.strip()))


def _check_arns(name: str, arns: tuple[str, ...], problem: Callable[[str], str | None]) -> None:
    for arn in arns:
        found = problem(arn)
        if found:
            raise ConfigurationError(f"{name}: {found}")


def _scope_from_env(environ: Mapping[str, str]) -> Scope:
    names = {n.strip() for n in environ.get(ENV_USERS, "").split(",") if n.strip()}
    return Scope(
        user_path=environ.get(ENV_USER_PATH) or None,
        user_names=frozenset(names),
        manage_tagged=_flag(environ, ENV_MANAGE_TAGGED),
    )


def _days(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name)
    return default if raw is None or raw == "" else parse_days(name, raw, minimum=minimum)


def _flag(environ: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = environ.get(name)
    return default if raw is None or raw == "" else parse_flag(name, raw)


def _horizon(environ: Mapping[str, str]) -> int | None:
    raw = environ.get(ENV_SCAN_HORIZON_DAYS)
    return parse_days(ENV_SCAN_HORIZON_DAYS, raw, minimum=1) if raw else None
