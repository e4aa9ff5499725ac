"""IAM users and access keys through boto3 (paginated everywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from keyturn.aws.errors import aws_call
from keyturn.core.models import AccessKey, KeyStatus, NewKey, SecretValue, User
from keyturn.errors import AwsError, UserNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


class IamUsers:
    """A UserDirectory and KeyStore on IAM."""

    def __init__(self, client: IAMClient) -> None:
        self._iam = client

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
        with aws_call("ListAccessKeys"):
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            metadata = [m for page in pages for m in page["AccessKeyMetadata"]]
        return [key for m in metadata if (key := self._key(m)) is not None]

    def create_key(self, user_name: str) -> NewKey:
        with aws_call("CreateAccessKey"):
            raw = self._iam.create_access_key(UserName=user_name)["AccessKey"]
        return NewKey(
            user_name, raw["AccessKeyId"], SecretValue(raw["SecretAccessKey"]), raw["CreateDate"]
        )

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None:
        with aws_call("UpdateAccessKey"):
            self._iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status=status.value)

    def delete_key(self, user_name: str, key_id: str) -> None:
        try:
            with aws_call("DeleteAccessKey"):
                self._iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise

    def user_tags(self, user_name: str) -> dict[str, str]:
        """The user's tags (every page)."""
        with aws_call("ListUserTags"):
            pages = self._iam.get_paginator("list_user_tags").paginate(UserName=user_name)
            return {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}

    def _user(self, raw: Any) -> User:
        name = raw["UserName"]
        return User(name, raw.get("Arn", ""), raw.get("Path", "/"), self.user_tags(name))

    def _key(self, meta: Any) -> AccessKey | None:
        key_id = meta["AccessKeyId"]
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
