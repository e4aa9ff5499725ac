"""Wiring for fleet runs: member-account sessions, report scans, the queue, rotators."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from keyturn.aws.credential_report import IamCredentialReports
from keyturn.aws.iam import IamUsers
from keyturn.aws.organizations import OrganizationAccounts
from keyturn.aws.secret_index import SecretsInFlightIndex
from keyturn.aws.session import AwsClients, CallerIdentity, Session
from keyturn.aws.sqs import SqsWorkQueue
from keyturn.core.inputs import is_account_id
from keyturn.core.rollout import Mode
from keyturn.errors import ConfigurationError, KeyturnError
from keyturn.fleet.accounts import OrgAccount
from keyturn.fleet.report_scan import NamedUsers, ReportDirectory, in_scope
from keyturn.fleet.settings import FleetSettings
from keyturn.rotation.ports import AccountNotifier, Clock, Notifier, SystemClock, UserDirectory
from keyturn.rotation.results import RunResult
from keyturn.rotation.rotator import Progress, Rotator
from keyturn.settings import Settings
from keyturn.wiring import clients_for, many_at_once, notifier_for, rotator_on

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)
SESSION_NAME = "keyturn-fleet"
SESSION_MARGIN = timedelta(minutes=5)
"""An assumed-role session this close to expiry is renewed before use."""


def function_account(context: object) -> str | None:
    """The account of the Lambda function a context was invoked as (its ARN's account field),
    so the hub's own account needs no STS call; None when the context has no such ARN."""
    arn = getattr(context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
        return None
    account = parts[4]
    return account if is_account_id(account) else None


@dataclass
class AccountRun:
    """keyturn's adapters in one account, on that account's session."""

    account_id: str
    clients: AwsClients
    settings: Settings
    clock: Clock
    notify_with: AwsClients | None = None
    """Clients that publish notifications (the hub's, so one topic serves the fleet)."""

    @cached_property
    def iam(self) -> IAMClient:
        return self.clients.iam()

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self.clients.secretsmanager()

    @cached_property
    def notifier(self) -> Notifier:
        """The hub's notifier; each message names this account (none for ``""``, the CLI's
        own account)."""
        notifier = notifier_for(self.notify_with or self.clients, self.settings)
        return AccountNotifier(notifier, self.account_id) if self.account_id else notifier

    def report_directory(self, horizon_days: int) -> ReportDirectory:
        return ReportDirectory(
            IamUsers(self.iam, many_at_once(self.settings.concurrency)),
            IamCredentialReports(self.iam),
            SecretsInFlightIndex(self.secretsmanager, self.settings.secret_prefix),
            self.clock,
            horizon_days,
        )

    def rotator(
        self,
        directory: UserDirectory | None = None,
        run_id: str | None = None,
        *,
        mode: Mode = Mode.ACT,
        metadata_only: bool = False,
    ) -> Rotator:
        """A rotator in this account; ``mode`` audit lowers the settings' mode (never raises)."""
        settings = self.settings
        if mode is Mode.AUDIT:
            settings = replace(settings, mode=Mode.AUDIT)
        return rotator_on(
            self.clients,
            settings,
            self.clock,
            directory=directory,
            notifier=self.notifier,
            run_id=run_id,
            account_id=self.account_id or None,
            metadata_only=metadata_only,
        )

    def user_tags(self, user_name: str) -> dict[str, str]:
        return IamUsers(self.iam).user_tags(user_name)

    def user_rotator(
        self, user_names: Iterable[str], run_id: str | None = None, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        """A rotator whose run covers only ``user_names``."""
        directory = NamedUsers(IamUsers(self.iam), list(user_names))
        return self.rotator(directory, run_id, mode=mode)


@dataclass
class AwsFleet:
    """The hub's view of the fleet: which accounts, and an :class:`AccountRun` in each."""

    settings: Settings
    fleet: FleetSettings
    hub: AwsClients
    clock: Clock
    _accounts: dict[str, tuple[AccountRun, datetime]] = field(default_factory=dict, repr=False)
    _listed: dict[str, OrgAccount] = field(default_factory=dict, repr=False)
    """The last listing's accounts with their OUs, for :meth:`mode_of`."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        fleet: FleetSettings,
        *,
        session: Session | None = None,
        clock: Clock | None = None,
        account_id: str | None = None,
    ) -> AwsFleet:
        """The fleet on the settings' credentials; ``account_id`` is their account when it is
        known without STS (a Lambda function's, from its ARN: :func:`function_account`)."""
        hub = clients_for(settings, session)
        if account_id is not None:
            hub.identity = CallerIdentity(account_id)
        return cls(settings, fleet, hub, clock or SystemClock())

    def own_account(self) -> str:
        """The hub's account (STS ``GetCallerIdentity`` once, unless known)."""
        return self.hub.account_id()

    def account_ids(self) -> list[str]:
        """The accounts this run covers: the organization's selected ones, or the own one."""
        if not self.fleet.organization:
            selected = [OrgAccount(self.own_account())]
        else:
            org: OrganizationsClient = self.hub.client("organizations")
            selected = self.fleet.accounts.select(OrganizationAccounts(org).accounts())
        self._listed = {a.account_id: a for a in selected}
        return [a.account_id for a in selected]

    def mode_of(self, account_id: str) -> Mode:
        """The mode the settings allow in ``account_id``: audit when ``KEYTURN_MODE=audit``;
        else act, unless ``KEYTURN_ACT_ACCOUNTS``/``KEYTURN_ACT_OUS`` are set and select it
        not (by the OUs of the latest listing; an account not listed is audited)."""
        if self.settings.mode is Mode.AUDIT or not self.fleet.act.staged:
            return self.settings.mode
        if account_id not in self._listed:
            self.account_ids()
        account = self._listed.get(account_id)
        return Mode.AUDIT if account is None else self.fleet.act.mode_for(account, Mode.ACT)

    def account(self, account_id: str) -> AccountRun:
        """Adapters in ``account_id``: the member role's session (reused while it lasts).

        The hub's own account is entered through its member role too when the fleet says so
        (:attr:`FleetSettings.enter_own_account`: the fleet functions, whose own roles hold no
        IAM or Secrets Manager right); otherwise, without an organization, the own
        credentials serve it (the CLI)."""
        cached = self._accounts.get(account_id)
        if cached is None or cached[1] - SESSION_MARGIN <= datetime.now(UTC):
            if self.fleet.organization or self.fleet.enter_own_account:
                clients, expires = self._assumed(account_id)
            else:
                clients, expires = self.hub, datetime.max.replace(tzinfo=UTC)
            run = AccountRun(account_id, clients, self.settings, self.clock, self.hub)
            cached = self._accounts[account_id] = (run, expires)
        return cached[0]

    def start_reports(self, account_ids: Sequence[str]) -> None:
        """Ask every account for its credential report up front, so IAM generates them side
        by side and each account's scan then mostly finds its report ready."""
        for account_id in account_ids:
            try:
                IamCredentialReports(self.account(account_id).iam).start()
            except KeyturnError as exc:
                log.info("report not started in %s: %s", account_id, exc)  # its scan will say

    def candidates(self, account_id: str) -> list[str]:
        """The managed users of ``account_id`` the credential report shows as possibly due."""
        run = self.account(account_id)
        horizon = self.fleet.horizon(self.settings.policy.rotate_after_days)
        selection = run.report_directory(horizon).select()
        return in_scope(selection, self.settings.scope, run.user_tags)

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        return self.account(account_id).user_rotator(user_names, run_id, mode=mode)

    def scan_all(
        self, at: datetime, *, progress: Progress | None = None
    ) -> list[tuple[str, RunResult]]:
        """Every covered account's scan (per-user listing) as of ``at``; changes nothing and
        reads no secret value (the auditor's rights suffice). ``progress`` is told each
        user's result (the CLI's progress bar)."""
        return [
            (a, self.account(a).rotator(metadata_only=True).plan_all(at=at, progress=progress))
            for a in self.account_ids()
        ]

    def queue(self) -> SqsWorkQueue:
        if not self.fleet.queue_url:
            raise ConfigurationError("KEYTURN_QUEUE_URL is not set")
        sqs: SQSClient = self.hub.client("sqs")
        return SqsWorkQueue(sqs, self.fleet.queue_url)

    def _assumed(self, account_id: str) -> tuple[AwsClients, datetime]:
        return self.hub.assume_role(
            self.fleet.member_role_name, account_id, SESSION_NAME, self.fleet.external_id
        )
