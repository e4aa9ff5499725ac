"""IAM users and access keys through boto3 (paginated everywhere).

A user's keys are read once per look at the user (:meth:`IamUsers.forget` starts a new one)
and kept up to date with keyturn's own changes. A key's last use costs one
``GetAccessKeyLastUsed`` call, so it is read only for the keys the caller names
(:mod:`keyturn.core.last_use`: a run names those a decision of its plan reads), at most once
per key and look. When a credential report was read for the run (:meth:`IamUsers.know`), a
key's last use comes from its row instead unless a decision needs fresher data: with two
active keys, whether the consumer switched decides a retirement, so those are read fresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from keyturn.aws.errors import aws_call
from keyturn.core.credential_report import ReportKey, ReportRow
from keyturn.core.last_use import LastUseWanted, every_key, settle
from keyturn.core.models import AccessKey, KeyStatus, NewKey, SecretValue, User
from keyturn.errors import AwsError, UserNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


Many = Callable[[Callable[[Any], User], Sequence[Any]], Iterable[User]]
"""Applies a function to each item, in order (a concurrent map, or ``map``)."""


def _in_turn(work: Callable[[Any], User], items: Sequence[Any]) -> Iterable[User]:
    return map(work, items)


class IamUsers:
    """A UserDirectory and KeyStore on IAM.

    ``many`` maps the per-user reads of a listing (ListUsers carries no tags: one
    ``ListUserTags`` each) over the listed users; the composition root passes a bounded
    concurrent map, so a listing of many users is not one round trip after another.
    """

    def __init__(self, client: IAMClient, many: Many = _in_turn) -> None:
        self._iam = client
        self._many = many
        self._keys: dict[str, list[AccessKey]] = {}
        self._used: dict[str, dict[str, datetime | None]] = {}
        """Per user, the last uses read in this look (a new key's: none)."""
        self._rows: dict[str, ReportRow] = {}
        self._stand_in: dict[str, ReportRow | None] = {}

    def know(self, rows: Iterable[ReportRow]) -> None:
        """The credential report's rows for this run: their last-use dates stand in for
        ``GetAccessKeyLastUsed`` where no decision needs fresher data."""
        self._rows.update((row.user_name, row) for row in rows)

    def forget(self, user_name: str) -> None:
        """Start a new look at ``user_name``: the next listing goes to IAM."""
        self._keys.pop(user_name, None)
        self._used.pop(user_name, None)

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
        yield from self._many(self._user, [raw for page in pages for raw in page["Users"]])

    def list_keys(self, user_name: str, *, last_use: LastUseWanted = every_key) -> list[AccessKey]:
        """The user's keys, with the last use of those ``last_use`` names; a key deleted by a
        concurrent run while being listed is left out. Within one look, each key's last use
        is read at most once."""
        listed = self._keys.get(user_name)
        if listed is None:
            listed = self._keys[user_name] = self._listed(user_name)
        known = self._used.setdefault(user_name, {})

        def read(key: AccessKey) -> AccessKey | None:
            if key.key_id not in known:
                found = self._last_use(user_name, key)
                if found is None:
                    self._drop(user_name, key.key_id)
                    return None
                known[key.key_id] = found.last_used
            return replace(key, last_used=known[key.key_id])

        view = [replace(k, last_used=known.get(k.key_id)) for k in listed]
        return settle(view, _remembered(last_use, frozenset(known)), read)

    def _listed(self, user_name: str) -> list[AccessKey]:
        """ListAccessKeys; whether the report's row may stand in for the last uses."""
        with aws_call("ListAccessKeys"):
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            metadata = [m for page in pages for m in page["AccessKeyMetadata"]]
        active = sum(m["Status"] == KeyStatus.ACTIVE.value for m in metadata)
        self._stand_in[user_name] = self._rows.get(user_name) if active < 2 else None
        self._used[user_name] = {}
        return [
            AccessKey(m["AccessKeyId"], KeyStatus(m["Status"]), m["CreateDate"]) for m in metadata
        ]

    def create_key(self, user_name: str) -> NewKey:
        with aws_call("CreateAccessKey"):
            raw = self._iam.create_access_key(UserName=user_name)["AccessKey"]
        new = NewKey(
            user_name, raw["AccessKeyId"], SecretValue(raw["SecretAccessKey"]), raw["CreateDate"]
        )
        if user_name in self._keys:
            self._keys[user_name].append(AccessKey(new.key_id, KeyStatus.ACTIVE, new.created))
            self._used.setdefault(user_name, {})[new.key_id] = None  # never used yet
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
        self._drop(user_name, key_id)

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

    def _last_use(self, user_name: str, key: AccessKey) -> AccessKey | None:
        """``key`` with its last use: the report's, where it may stand in, else
        GetAccessKeyLastUsed's; None if the key is gone."""
        row = self._stand_in.get(user_name)
        reported = _slot(row, key.created) if row is not None else None
        if reported is not None and reported.active == key.active:
            return replace(key, last_used=reported.last_used)
        try:
            with aws_call("GetAccessKeyLastUsed"):
                used = self._iam.get_access_key_last_used(AccessKeyId=key.key_id)
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        return replace(key, last_used=used["AccessKeyLastUsed"].get("LastUsedDate"))

    def _drop(self, user_name: str, key_id: str) -> None:
        if user_name in self._keys:
            self._keys[user_name] = [k for k in self._keys[user_name] if k.key_id != key_id]


def _remembered(wanted: LastUseWanted, known: frozenset[str]) -> LastUseWanted:
    """``wanted``, told of the last uses this look already read."""

    def also_known(keys: tuple[AccessKey, ...], read: frozenset[str]) -> frozenset[str]:
        return wanted(keys, read | known)

    return also_known


def _slot(row: ReportRow, created: Any) -> ReportKey | None:
    """The report's slot for the key created at ``created`` (the report's ``last_rotated``,
    to the second), if exactly one matches."""
    found = [
        k
        for k in row.keys
        if k.created is not None and abs(k.created - created) < timedelta(seconds=1)
    ]
    return found[0] if len(found) == 1 else None
