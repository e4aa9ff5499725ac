"""Settings of fleet runs, resolved once at the edges like :class:`keyturn.settings.Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keyturn.core.policy import parse_days, parse_flag
from keyturn.errors import ConfigurationError
from keyturn.fleet.accounts import AccountFilter, AccountRollout
from keyturn.settings import (
    ENV_ACT_ACCOUNTS,
    ENV_ACT_OUS,
    ENV_EXCLUDE_ACCOUNTS,
    ENV_EXCLUDE_OUS,
    ENV_INCLUDE_ACCOUNTS,
    ENV_INCLUDE_OUS,
    ENV_MEMBER_EXTERNAL_ID,
    ENV_MEMBER_ROLE_NAME,
    ENV_ORGANIZATION,
    ENV_QUEUE_URL,
    ENV_SCAN_HORIZON_DAYS,
)

DEFAULT_MEMBER_ROLE = "keyturn-member"


@dataclass(frozen=True)
class FleetSettings:
    """Where a fleet run looks and how it reaches each account.

    Attributes:
        organization: list accounts with AWS Organizations; otherwise only the own account.
        accounts: include/exclude rules by account id and OU.
        member_role_name / external_id: the role assumed in each member account.
        horizon_days: keys younger than this are not looked at (None: the policy's
            ``rotate_after_days``). Set it to the lowest ``keyturn:rotate-after-days`` tag in use.
        queue_url: the SQS queue the dispatcher fills and the worker drains.
        act: staged rollout by account and OU; the accounts it does not select are audited.
        enter_own_account: enter the own account through the member role as well, like
            every other account. The fleet functions set it: their execution roles hold no
            IAM or Secrets Manager right, so the member role (deployed in the hub account too)
            is their only way in. The CLI leaves it off and uses its own credentials there.
    """

    organization: bool = False
    accounts: AccountFilter = field(default_factory=AccountFilter)
    member_role_name: str = DEFAULT_MEMBER_ROLE
    external_id: str | None = None
    horizon_days: int | None = None
    queue_url: str | None = None
    act: AccountRollout = field(default_factory=AccountRollout)
    enter_own_account: bool = False

    def __post_init__(self) -> None:
        if not self.member_role_name or "/" in self.member_role_name.strip("/"):
            raise ConfigurationError(f"{ENV_MEMBER_ROLE_NAME} must be a role name")

    def horizon(self, rotate_after_days: int) -> int:
        return rotate_after_days if self.horizon_days is None else self.horizon_days

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **explicit: object) -> FleetSettings:
        """Fleet settings from environment variables; keyword arguments win over them.

        Raises:
            ConfigurationError: a variable holds a value keyturn cannot use.
        """
        horizon = environ.get(ENV_SCAN_HORIZON_DAYS)
        organization = environ.get(ENV_ORGANIZATION)
        values: dict[str, object] = {
            "organization": bool(organization) and parse_flag(ENV_ORGANIZATION, organization or ""),
            "accounts": AccountFilter(
                include_accounts=_names(environ, ENV_INCLUDE_ACCOUNTS),
                exclude_accounts=_names(environ, ENV_EXCLUDE_ACCOUNTS),
                include_ous=_names(environ, ENV_INCLUDE_OUS),
                exclude_ous=_names(environ, ENV_EXCLUDE_OUS),
            ),
            "member_role_name": environ.get(ENV_MEMBER_ROLE_NAME) or DEFAULT_MEMBER_ROLE,
            "external_id": environ.get(ENV_MEMBER_EXTERNAL_ID) or None,
            "horizon_days": parse_days(ENV_SCAN_HORIZON_DAYS, horizon, minimum=1)
            if horizon
            else None,
            "queue_url": environ.get(ENV_QUEUE_URL) or None,
            "act": AccountRollout(
                accounts=_names(environ, ENV_ACT_ACCOUNTS), ous=_names(environ, ENV_ACT_OUS)
            ),
        }
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _names(environ: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(n.strip() for n in environ.get(name, "").split(",") if n.strip())
