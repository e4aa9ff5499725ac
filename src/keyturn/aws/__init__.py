"""boto3 adapters: the only package that imports boto3 or botocore.

Each adapter implements a port of :mod:`keyturn.rotation.ports` or :mod:`keyturn.fleet.ports`
and imports only ports, core models and errors; :mod:`keyturn.wiring` builds the service
from them.
"""

from __future__ import annotations

from keyturn.aws.iam import IamUsers
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.aws.session import AwsClients, quiet_sdk_logs
from keyturn.aws.sns import SnsNotifier
from keyturn.aws.verify import StsKeyVerifier

__all__ = [
    "AwsClients",
    "IamUsers",
    "SecretsManagerStore",
    "SnsNotifier",
    "StsKeyVerifier",
    "quiet_sdk_logs",
]
