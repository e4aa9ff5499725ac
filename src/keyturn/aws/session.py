"""boto3 sessions and clients with keyturn's retry configuration.

Transient failures (throttling, 5xx, connection errors) are retried by botocore's ``standard``
retry mode; keyturn writes no sleeps of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from keyturn import __version__
from keyturn.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

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


@dataclass
class AwsClients:
    """Creates the boto3 clients keyturn needs from one session."""

    session: boto3.Session
    endpoint_url: str | None = None
    config: Config = RETRY_CONFIG
    _made: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, session: boto3.Session | None = None) -> AwsClients:
        quiet_sdk_logs()
        session = session or boto3.Session(
            profile_name=settings.profile, region_name=settings.region
        )
        return cls(session, settings.endpoint_url)

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

    def sns(self) -> SNSClient:
        client: SNSClient = self.client("sns")
        return client

    def sts(self) -> STSClient:
        client: STSClient = self.client("sts")
        return client
