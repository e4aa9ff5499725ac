"""The composition root: settings → boto3 clients → adapters → the service.

The faces (Lambda handlers, CLI) call these builders; nothing else constructs the service from
AWS adapters, and the adapters never import the service.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable

from keyturn.aws.credential_report import Backoff, IamCredentialReports
from keyturn.aws.events import EventBridgeNotifier
from keyturn.aws.iam import IamUsers, Many
from keyturn.aws.secret_index import SecretsInFlightIndex
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.aws.securityhub import SecurityHubFindings
from keyturn.aws.session import AwsClients, Session, quiet_sdk_logs
from keyturn.aws.sns import SnsNotifier
from keyturn.aws.verify import StsKeyVerifier
from keyturn.core.secret_policy import principal_arn
from keyturn.core.secret_trust import SecretTrust
from keyturn.fleet.report_scan import ReportDirectory, ReportFirst
from keyturn.rotation import pool
from keyturn.rotation.findings import FindingsPublisher
from keyturn.rotation.ports import (
    Clock,
    Notifier,
    Notifiers,
    NullNotifier,
    SystemClock,
    UserDirectory,
)
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings

REPORT_WAIT = Backoff(first=0.5, factor=2.0, cap=8.0, attempts=6)
"""How long a scheduled run waits for IAM to generate the credential report (about 24 s)
before it lists every user instead."""

__all__ = [
    "build_rotator",
    "clients_for",
    "findings_for",
    "forget_clients",
    "notifier_for",
    "rotator_on",
    "secret_trust",
]


def build_rotator(
    settings: Settings,
    *,
    session: Session | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
    by_report: bool = True,
    metadata_only: bool = False,
) -> Rotator:
    """A Rotator wired to real AWS (or whatever ``settings.endpoint_url`` points at).

    Without an explicit session, clients are made once per settings and reused, as Lambda
    recommends for warm invocations. New keys are proved with STS before promotion;
    ``time.sleep`` paces the probes. A run looks only at the users the credential report shows
    as possibly due (``by_report``, the default), falling back to the listing of every user when
    the report cannot be had; scans and plans always list every user. ``metadata_only`` (the
    auditor) never reads a secret value.
    """
    quiet_sdk_logs()
    clients = clients_for(settings, session) if session else _shared_clients(settings)
    return rotator_on(
        clients,
        settings,
        clock or SystemClock(),
        run_id=run_id,
        by_report=by_report,
        metadata_only=metadata_only,
    )


def rotator_on(  # noqa: PLR0913 - the composition root's knobs, all keyword after three
    clients: AwsClients,
    settings: Settings,
    clock: Clock,
    *,
    directory: UserDirectory | None = None,
    notifier: Notifier | None = None,
    run_id: str | None = None,
    account_id: str | None = None,
    by_report: bool = False,
    metadata_only: bool = False,
) -> Rotator:
    """A Rotator on ``clients``' account; ``directory`` narrows which users a run sees;
    ``by_report`` makes a run look only at the credential report's candidates;
    ``account_id`` (fleet runs) is named in every audit event."""
    iam = IamUsers(clients.iam(), many_at_once(settings.concurrency))
    secrets = SecretsManagerStore(
        clients.secretsmanager(),
        settings.secret_prefix,
        trust=secret_trust(clients, settings),
        metadata_only=metadata_only,
    )
    run_directory = None
    if by_report and directory is None:
        report = ReportDirectory(
            iam,
            IamCredentialReports(clients.iam(), backoff=REPORT_WAIT),
            SecretsInFlightIndex(clients.secretsmanager(), settings.secret_prefix),
            clock,
            settings.horizon_days,
        )
        run_directory = ReportFirst(
            report, iam, settings.scope, iam.user_tags, iam.know, workers=settings.concurrency
        )
    return Rotator(
        directory or iam,
        iam,
        secrets,
        notifier or notifier_for(clients, settings),
        clock,
        settings,
        run_id or uuid.uuid4().hex[:12],
        verifier=StsKeyVerifier(clients.region or settings.region, settings.endpoint_url),
        sleep=time.sleep,
        findings=findings_for(clients, settings),
        account_id=account_id,
        run_directory=run_directory,
    )


def findings_for(clients: AwsClients, settings: Settings) -> FindingsPublisher | None:
    """Security Hub findings in ``clients``' account and region, when ``KEYTURN_SECURITY_HUB``
    is on; the account is asked of STS only when a run publishes."""
    if not settings.security_hub:
        return None
    region = clients.region or settings.region or "us-east-1"
    partition = clients.session.get_partition_for_region(region)
    hub = clients.client("securityhub")
    store = SecurityHubFindings(hub, clients.account_id, region, partition)
    return FindingsPublisher(store, settings.policy.max_active_days)


def many_at_once(workers: int) -> Many:
    """A bounded, order-keeping concurrent map for an adapter's per-user reads of a listing
    (``KEYTURN_CONCURRENCY`` of them at once)."""
    return lambda work, items: pool.in_order(items, work, workers)


def secret_trust(clients: AwsClients, settings: Settings) -> Callable[[], SecretTrust]:
    """What keyturn's secrets look like for these settings, resolved on first use.

    keyturn's principals are ``KEYTURN_TRUSTED_PRINCIPAL_ARNS``, or else whoever ``clients``
    authenticate as (STS ``GetCallerIdentity``, an assumed role turned into its role ARN): in
    the fleet that is the member role of each account.
    """

    @functools.cache
    def resolve() -> SecretTrust:
        principals = settings.trusted_principal_arns or (principal_arn(clients.caller_arn()),)
        return SecretTrust(
            principals,
            settings.kms_key_id,
            settings.rotation_function_arns,
            settings.function_name,
        )

    return resolve


def clients_for(settings: Settings, session: Session | None = None) -> AwsClients:
    """Clients for the settings' profile, region and endpoint (or on ``session``)."""
    return AwsClients.connect(
        profile=settings.profile,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        session=session,
    )


def notifier_for(clients: AwsClients, settings: Settings) -> Notifier:
    """SNS on the configured topic and EventBridge on the configured bus (both, either, or
    nothing when neither is configured)."""
    notifiers: list[Notifier] = []
    if settings.topic_arn:
        notifiers.append(SnsNotifier(clients.sns(), settings.topic_arn))
    if settings.event_bus:
        notifiers.append(EventBridgeNotifier(clients.events(), settings.event_bus))
    if not notifiers:
        return NullNotifier()
    return notifiers[0] if len(notifiers) == 1 else Notifiers(tuple(notifiers))


@functools.lru_cache(maxsize=8)
def _shared_clients(settings: Settings) -> AwsClients:
    return clients_for(settings).cached()


def forget_clients() -> None:
    """Drop the reused clients (new credentials, or a test that watches new sessions)."""
    _shared_clients.cache_clear()
