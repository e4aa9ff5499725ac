"""The key verifier on STS: ``GetCallerIdentity`` signed with the key under test.

Each probe is a single attempt (botocore retries off): a rejection right after CreateAccessKey is
IAM's eventual consistency, which the verification loop waits out, not a transient fault.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from keyturn.aws.errors import aws_call
from keyturn.aws.session import RETRY_CONFIG
from keyturn.core.delivery import StoredKey
from keyturn.errors import AwsError
from keyturn.rotation.ports import Probe

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

SINGLE_ATTEMPT = RETRY_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=5)
)


_LOADER: list[botocore.loaders.Loader] = []
_LOADER_LOCK = threading.Lock()


def _shared_loader() -> botocore.loaders.Loader:
    """One model loader for every per-key session: a run proves many keys at once, and each
    session loading STS's model again cost about 5 MiB and 50 ms per key."""
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        return _LOADER[0]


class StsKeyVerifier:
    """A KeyVerifier that asks STS who the key belongs to."""

    def __init__(self, region: str | None, endpoint_url: str | None = None) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._local = threading.local()
        """Each thread's (key id, client): a run proves many keys at once, one per thread."""

    def probe(self, key: StoredKey) -> Probe:
        client = self._client_for(key)
        try:
            with aws_call("GetCallerIdentity"):
                identity = client.get_caller_identity()
        except AwsError as exc:
            return Probe(accepted=False, code=exc.code)
        return Probe(accepted=True, arn=identity.get("Arn", ""))

    def _client_for(self, key: StoredKey) -> STSClient:
        """One client per key under test (and per thread), with only that key's credentials."""
        cached: tuple[str, STSClient] | None = getattr(self._local, "client", None)
        if cached is None or cached[0] != key.key_id:
            cached = (key.key_id, self._make_client(key))
            self._local.client = cached
        return cached[1]

    def _make_client(self, key: StoredKey) -> STSClient:
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader())
        session = boto3.Session(
            aws_access_key_id=key.key_id,
            aws_secret_access_key=key.secret.reveal(),
            region_name=self._region or "us-east-1",
            botocore_session=core,
        )
        client: STSClient = session.client(
            "sts", endpoint_url=self._endpoint_url, config=SINGLE_ATTEMPT
        )
        return client
