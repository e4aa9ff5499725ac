"""boto3 sessions for the tests' own clients, sharing one botocore model loader.

A new boto3 session reads and parses each service's model again when it makes its first client
(about a third of a second for IAM); sessions made here share one loader, so their clients are
made in milliseconds. The loader holds only botocore's service models (read-only data), so a
session from here may also be handed to keyturn where a test builds keyturn on a session.
"""

from __future__ import annotations

import botocore.loaders
import botocore.session
from boto3 import Session

_LOADER = botocore.loaders.create_loader()


def session(
    access_key_id: str, secret_access_key: str, region: str, session_token: str | None = None
) -> Session:
    """A boto3 session with these credentials, its models from the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        botocore_session=core,
    )
