"""boto3 sessions and clients with keyturn's retry configuration.

Transient failures (throttling, 5xx, connection errors) are retried by botocore's ``standard``
retry mode; keyturn writes no sleeps of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from keyturn import __version__
from keyturn.aws.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

Session = boto3.Session
"""The session type callers pass in, so the wiring need not import boto3 itself."""
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    user_agent_extra=f"keyturn/{__version__}",
)
SDK_LOGGER_PREFIXES = ("botocore", "boto3", "urllib3", "s3transfer")
"""botocore logs raw request parameters and response bodies at DEBUG, and CreateAccessKey's
response (like PutSecretValue's request) carries a secret access key."""


class DropSdkDebug(logging.Filter):
    """Drops DEBUG records of the AWS SDK's loggers, whatever level a user sets later."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_DROP_SDK_DEBUG = DropSdkDebug()


def quiet_sdk_logs() -> None:
    """Keep SDK wire logs (which can hold secrets) out of every log handler.

    Each SDK logger gets a filter that drops DEBUG records, so a later
    ``logging.getLogger("botocore").setLevel(logging.DEBUG)`` still shows no bodies; levels are
    also raised to INFO so the records are not even formatted. Idempotent and cheap.
    """
    names = [n for n in logging.root.manager.loggerDict if n.startswith(SDK_LOGGER_PREFIXES)]
    for name in (*SDK_LOGGER_PREFIXES, *names):
        logger = logging.getLogger(name)
        if _DROP_SDK_DEBUG not in logger.filters:
            logger.addFilter(_DROP_SDK_DEBUG)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class CallerIdentity:
    """Who a session's credentials authenticate as, where known without asking STS.

    Attributes:
        account_id: the account the credentials belong to.
        arn: what ``GetCallerIdentity`` answers as ``Arn`` (an assumed role's session ARN);
            None when only the account is known.
    """

    account_id: str
    arn: str | None = None


@dataclass
class AwsClients:
    """Creates the boto3 clients keyturn needs from one session.

    ``identity`` is who the session authenticates as: given when it is known (clients made
    by :meth:`assume_role` know the role session AssumeRole answered with), else asked of STS
    once (``GetCallerIdentity``) and remembered, as a session's identity does not change.
    """

    session: boto3.Session
    endpoint_url: str | None = None
    config: Config = RETRY_CONFIG
    _made: dict[str, Any] | None = None
    identity: CallerIdentity | None = None

    @classmethod
    def connect(
        cls,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
    ) -> AwsClients:
        """Clients on ``session``, or on a new session of ``profile`` in ``region``."""
        quiet_sdk_logs()
        session = session or boto3.Session(profile_name=profile, region_name=region)
        return cls(session, endpoint_url)

    def account_id(self) -> str:
        """The account these clients' credentials belong to."""
        if self.identity is None:
            return self._asked().account_id
        return self.identity.account_id

    def caller_arn(self) -> str:
        """The ARN these clients' credentials authenticate as (an assumed-role session's ARN
        for a role)."""
        arn = self.identity.arn if self.identity is not None else None
        return arn if arn is not None else str(self._asked().arn)

    def _asked(self) -> CallerIdentity:
        """STS ``GetCallerIdentity``, remembered."""
        with aws_call("GetCallerIdentity"):
            found = self.sts().get_caller_identity()
        self.identity = CallerIdentity(found["Account"], found["Arn"])
        return self.identity

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def assume_role(
        self, role_name: str, account_id: str, session_name: str, external_id: str | None
    ) -> tuple[AwsClients, datetime]:
        """Clients in ``account_id`` on role ``role_name``, and when their credentials expire."""
        partition = self.session.get_partition_for_region(self.session.region_name)
        role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
        extra: dict[str, Any] = {"ExternalId": external_id} if external_id else {}
        with aws_call("AssumeRole"):
            assumed = self.sts().assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, **extra
            )
        creds = assumed["Credentials"]
        # what GetCallerIdentity would answer for these credentials, known without asking
        identity = CallerIdentity(account_id, assumed["AssumedRoleUser"]["Arn"])
        quiet_sdk_logs()
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.session.region_name,
        )
        clients = AwsClients(session, self.endpoint_url, self.config, identity=identity)
        return clients, creds["Expiration"]

    def cached(self) -> AwsClients:
        """This factory, remembering each client it makes."""
        self._made = {}
        return self

    def client(self, service: str) -> Any:
        """A client of ``service`` with keyturn's endpoint and retry configuration."""
        if self._made is not None and service in self._made:
            return self._made[service]
        client = self.session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, config=self.config
        )
        if self._made is not None:
            self._made[service] = client
        return client

    def iam(self) -> IAMClient:
        client: IAMClient = self.client("iam")
        return client

    def secretsmanager(self) -> SecretsManagerClient:
        client: SecretsManagerClient = self.client("secretsmanager")
        return client

    def events(self) -> EventBridgeClient:
        client: EventBridgeClient = self.client("events")
        return client

    def sns(self) -> SNSClient:
        client: SNSClient = self.client("sns")
        return client

    def sts(self) -> STSClient:
        client: STSClient = self.client("sts")
        return client
