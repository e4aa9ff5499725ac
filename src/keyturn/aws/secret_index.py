"""Which users have a keyturn secret with an in-flight mark: one filtered, paginated ListSecrets.

Costs O(pages of marked secrets), normally one call, whatever the number of users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.core import codec

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import FilterTypeDef


class SecretsInFlightIndex:
    """An InFlightIndex on Secrets Manager's ListSecrets (filtered by name prefix and tag key)."""

    def __init__(self, client: SecretsManagerClient, prefix: str = "keyturn/") -> None:
        self._sm = client
        self._prefix = prefix

    def users_in_flight(self) -> frozenset[str]:
        filters: list[FilterTypeDef] = [
            {"Key": "name", "Values": [self._prefix]},
            {"Key": "tag-key", "Values": [codec.TAG_PENDING_SINCE]},
        ]
        users: set[str] = set()
        with aws_call("ListSecrets"):
            pages = self._sm.get_paginator("list_secrets").paginate(Filters=filters)
            for page in pages:
                for secret in page.get("SecretList", []):
                    tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
                    if codec.TAG_PENDING_SINCE not in tags:
                        continue  # tag-key filters match prefixes
                    name = secret.get("Name", "")
                    users.add(tags.get(codec.TAG_USER) or name.removeprefix(self._prefix))
        return frozenset(users)
