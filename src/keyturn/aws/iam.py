"""IAM users and access keys through boto3 (paginated everywhere).

A user's keys are read once per look at the user (:meth:`IamUsers.forget` starts a new one)
and kept up to date with keyturn's own changes. When a credential report was read for the run
(:meth:`IamUsers.know`), a key's last use comes from its row instead of
``GetAccessKeyLastUsed`` unless a decision needs fresher data: with two active keys, whether
the consumer switched decides a retirement, so those are always read fresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from keyturn.aws.errors import aws_call
from keyturn.core.credential_report import ReportKey, ReportRow
from keyturn.core.models import AccessKey, KeyStatus, NewKey, SecretValue, User
from keyturn.errors import AwsError, UserNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


class IamUsers:
    """A UserDirectory and KeyStore on IAM."""

    def __init__(self, client: IAMClient) -> None:
        self._iam = client
        self._keys: dict[str, list[AccessKey]] = {}
        self._rows: dict[str, ReportRow] = {}

    def know(self, rows: Iterable[ReportRow]) -> None:
        """The credential report's rows for this run: their last-use dates stand in for
        ``GetAccessKeyLastUsed`` where no decision needs fresher data."""
        self._rows.update((row.user_name, row) for row in rows)

    def forget(self, user_name: str) -> None:
        """Start a new look at ``user_name``: the next listing goes to IAM."""
        self._keys.pop(user_name, None)

    def get_user(self, user_name: str) -> User:
        try:
            with aws_call("GetUser"):
                raw = self._iam.get_user(UserName=user_name)["User"]
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                raise UserNotFoundError(user_name) from None
            raise
        return self._user(raw)

    def list_users(self) -> Iterator[User]:
        with aws_call("ListUsers"):
            pages = list(self._iam.get_paginator("list_users").paginate())
        for page in pages:
            for raw in page["Users"]:
                yield self._user(raw)

    def list_keys(self, user_name: str) -> list[AccessKey]:
        """The user's keys; a key deleted by a concurrent run while being listed is left out."""
        known = self._keys.get(user_name)
        if known is not None:
            return list(known)
        with aws_call("ListAccessKeys"):
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            metadata = [m for page in pages for m in page["AccessKeyMetadata"]]
        active = sum(m["Status"] == KeyStatus.ACTIVE.value for m in metadata)
        row = self._rows.get(user_name) if active < 2 else None
        keys = [key for m in metadata if (key := self._key(m, row)) is not None]
        self._keys[user_name] = keys
        return list(keys)

    def create_key(self, user_name: str) -> NewKey:
        with aws_call("CreateAccessKey"):
            raw = self._iam.create_access_key(UserName=user_name)["AccessKey"]
        new = NewKey(
            user_name, raw["AccessKeyId"], SecretValue(raw["SecretAccessKey"]), raw["CreateDate"]
        )
        if user_name in self._keys:
            self._keys[user_name].append(AccessKey(new.key_id, KeyStatus.ACTIVE, new.created))
        return new

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None:
        with aws_call("UpdateAccessKey"):
            self._iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status=status.value)
        if user_name in self._keys:
            self._keys[user_name] = [
                replace(k, status=status) if k.key_id == key_id else k
                for k in self._keys[user_name]
            ]

    def delete_key(self, user_name: str, key_id: str) -> None:
        try:
            with aws_call("DeleteAccessKey"):
                self._iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise
        if user_name in self._keys:
            self._keys[user_name] = [k for k in self._keys[user_name] if k.key_id != key_id]

    def user_tags(self, user_name: str) -> dict[str, str]:
        """The user's tags (every page)."""
        with aws_call("ListUserTags"):
            pages = self._iam.get_paginator("list_user_tags").paginate(UserName=user_name)
            return {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}

    def _user(self, raw: Any) -> User:
        """The user; GetUser answers with its tags, ListUsers does not (one more call)."""
        name = raw["UserName"]
        if "Tags" in raw:
            tags = {t["Key"]: t["Value"] for t in raw["Tags"]}
        else:
            tags = self.user_tags(name)
        return User(name, raw.get("Arn", ""), raw.get("Path", "/"), tags)

    def _key(self, meta: Any, row: ReportRow | None) -> AccessKey | None:
        key_id = meta["AccessKeyId"]
        status, created = KeyStatus(meta["Status"]), meta["CreateDate"]
        reported = _slot(row, created) if row is not None else None
        if reported is not None and reported.active == (status is KeyStatus.ACTIVE):
            return AccessKey(key_id, status, created, reported.last_used)
        try:
            with aws_call("GetAccessKeyLastUsed"):
                used = self._iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        return AccessKey(
            key_id, KeyStatus(meta["Status"]), meta["CreateDate"], used.get("LastUsedDate")
        )


def _slot(row: ReportRow, created: Any) -> ReportKey | None:
    """The report's slot for the key created at ``created`` (the report's ``last_rotated``,
    to the second), if exactly one matches."""
    found = [
        k
        for k in row.keys
        if k.created is not None and abs(k.created - created) < timedelta(seconds=1)
    ]
    return found[0] if len(found) == 1 else None
