"""Which users have a keyturn secret with an in-flight mark: one filtered, paginated ListSecrets.

Costs O(pages of marked secrets), normally one call, whatever the number of users: a mark is
emptied (not removed) when its rotation ends, and emptied marks are not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.core import codec

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import FilterTypeDef


class SecretsInFlightIndex:
    """An InFlightIndex on Secrets Manager's ListSecrets, filtered by name prefix, tag key and
    tag value: ``keyturn:pending-since`` holding ``since:...`` (:data:`codec.PENDING_PREFIX`).

    Secrets Manager's ``tag-value`` filter is a case-sensitive prefix match on *any* tag's
    value, so each listed secret's own mark is checked again. The index misses an older
    keyturn's mark (a bare ``TIME@...``, only left by a rotation that crashed across an
    upgrade): the report-first run then looks at that user only when the credential report
    says so (a key that rotation created is a second key, which it does), and
    ``keyturn run --listing``, which looks at every user, finds it.
    """

    def __init__(self, client: SecretsManagerClient, prefix: str = "keyturn/") -> None:
        self._sm = client
        self._prefix = prefix

    def users_in_flight(self) -> frozenset[str]:
        filters: list[FilterTypeDef] = [
            {"Key": "name", "Values": [self._prefix]},
            {"Key": "tag-key", "Values": [codec.TAG_PENDING_SINCE]},
            {"Key": "tag-value", "Values": [codec.PENDING_PREFIX]},
        ]
        users: set[str] = set()
        with aws_call("ListSecrets"):
            pages = self._sm.get_paginator("list_secrets").paginate(Filters=filters)
            for page in pages:
                for secret in page.get("SecretList", []):
                    tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
                    if not codec.pending_listed(tags.get(codec.TAG_PENDING_SINCE)):
                        continue  # the filters match prefixes, and any tag's value
                    name = secret.get("Name", "")
                    users.add(tags.get(codec.TAG_USER) or name.removeprefix(self._prefix))
        return frozenset(users)
