"""The per-user secret in AWS Secrets Manager: key material, rotation record and state marks.

Reads always name ``VersionStage="AWSCURRENT"`` (or AWSPREVIOUS) explicitly.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from keyturn.aws.errors import aws_call
from keyturn.core import codec
from keyturn.core.delivery import CURRENT, PENDING, Delivery, Marks, SecretRef, StagedVersion
from keyturn.core.models import StoredState
from keyturn.errors import AwsError, ConcurrentDeliveryError, RefusedError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import FilterTypeDef, TagTypeDef

NOT_FOUND = "ResourceNotFoundException"
EXISTS = "ResourceExistsException"


class SecretsManagerStore:
    """The secret store and its versions (``Secrets``) on Secrets Manager, one secret per user
    named ``<prefix><user>``."""

    def __init__(
        self, client: SecretsManagerClient, prefix: str = "keyturn/", kms_key_id: str | None = None
    ) -> None:
        self._sm = client
        self._prefix = prefix
        self._kms_key_id = kms_key_id
        self._arns: dict[str, str] = {}

    def locate(self, user_name: str) -> SecretRef:
        return SecretRef(self._name(user_name), self._arns.get(user_name, ""))

    def read_state(self, user_name: str) -> StoredState | None:
        described = self._describe(user_name)
        if described is None:
            return None
        tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
        doc = self._document(user_name, "AWSCURRENT")
        return codec.state_from(doc, tags)

    def stage(self, delivery: Delivery) -> SecretRef:
        user = delivery.key.user_name
        body = json.dumps(codec.document(delivery))
        self._ensure(user, delivery.owner_arn)
        try:
            with aws_call("PutSecretValue"):
                self._sm.put_secret_value(
                    SecretId=self._name(user),
                    SecretString=body,
                    ClientRequestToken=delivery.token,
                    VersionStages=[PENDING],
                )
        except AwsError as exc:
            if exc.code == EXISTS:
                raise ConcurrentDeliveryError(exc.operation, exc.code, "token in use") from None
            raise
        return self.locate(user)

    def promote(self, user_name: str, version_id: str) -> SecretRef:
        stages = self._stages(user_name)
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        if current != version_id:
            extra: dict[str, Any] = {"RemoveFromVersionId": current} if current else {}
            with aws_call("UpdateSecretVersionStage"):
                self._sm.update_secret_version_stage(
                    SecretId=self._name(user_name),
                    VersionStage=CURRENT,
                    MoveToVersionId=version_id,
                    **extra,
                )
        self.set_marks(user_name, Marks(clear_pending=True))
        return self.locate(user_name)

    def unstage(self, user_name: str, version_id: str) -> None:
        if PENDING not in self._stages(user_name).get(version_id, ()):
            return
        with aws_call("UpdateSecretVersionStage"):
            self._sm.update_secret_version_stage(
                SecretId=self._name(user_name), VersionStage=PENDING, RemoveFromVersionId=version_id
            )

    def version(self, user_name: str, version_id: str) -> StagedVersion | None:
        try:
            with aws_call("GetSecretValue"):
                raw = self._sm.get_secret_value(
                    SecretId=self._name(user_name), VersionId=version_id
                )
        except AwsError as exc:
            if exc.code in {NOT_FOUND, "InvalidRequestException"}:
                return None
            raise
        doc = json.loads(raw.get("SecretString") or "{}")
        if not isinstance(doc, dict) or "AccessKeyId" not in doc:
            return None
        stages = frozenset(raw.get("VersionStages", []))
        key = codec.stored_key(doc)
        return StagedVersion(version_id, key, stages, codec.previous_key_id(doc))

    def labelled(self, user_name: str, stage: str) -> StagedVersion | None:
        version_id = next((v for v, s in self._stages(user_name).items() if stage in s), None)
        return self.version(user_name, version_id) if version_id else None

    def find_user(self, secret_id: str) -> str:
        try:
            with aws_call("DescribeSecret"):
                described = self._sm.describe_secret(SecretId=secret_id)
        except AwsError as exc:
            if exc.code == NOT_FOUND:
                raise RefusedError(secret_id, "no such secret") from None
            raise
        tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
        name = described["Name"]
        user = tags.get(codec.TAG_USER) or (
            name[len(self._prefix) :] if name.startswith(self._prefix) else ""
        )
        if not user or name != self._name(user):
            raise RefusedError(name, f"not a keyturn secret (expected {self._prefix}<user>)")
        self._arns[user] = described["ARN"]
        return user

    def in_grace(self) -> list[str]:
        """One filtered ListSecrets (paginated): keyturn's secrets tagged ``keyturn:in-grace``
        under this prefix; the user is the ``keyturn:user`` tag, checked against the name."""
        filters: list[FilterTypeDef] = [
            {"Key": "tag-key", "Values": [codec.TAG_IN_GRACE]},
            {"Key": "name", "Values": [self._prefix]},
        ]
        with aws_call("ListSecrets"):
            pages = self._sm.get_paginator("list_secrets").paginate(
                Filters=filters, PaginationConfig={"PageSize": 100}
            )
            listed = [s for page in pages for s in page.get("SecretList", [])]
        users = []
        for secret in listed:
            tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
            user = tags.get(codec.TAG_USER, "")
            if user and secret.get("Name") == self._name(user) and codec.TAG_IN_GRACE in tags:
                self._arns[user] = secret["ARN"]
                users.append(user)
        return users

    def set_marks(self, user_name: str, marks: Marks) -> None:
        to_set, to_remove = codec.mark_tags(marks)
        if not to_set and not to_remove:
            return
        name = self._ensure(user_name, "")
        if to_set:
            with aws_call("TagResource"):
                tags: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in to_set.items()]
                self._sm.tag_resource(SecretId=name, Tags=tags)
        if to_remove:
            with aws_call("UntagResource"):
                self._sm.untag_resource(SecretId=name, TagKeys=to_remove)

    def _name(self, user_name: str) -> str:
        return f"{self._prefix}{user_name}"

    def _stages(self, user_name: str) -> dict[str, list[str]]:
        described = self._describe(user_name)
        return dict(described.get("VersionIdsToStages", {})) if described else {}

    def _describe(self, user_name: str) -> Any:
        try:
            with aws_call("DescribeSecret"):
                described = self._sm.describe_secret(SecretId=self._name(user_name))
        except AwsError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        self._arns[user_name] = described["ARN"]
        return described

    def _document(self, user_name: str, stage: str) -> dict[str, Any] | None:
        try:
            with aws_call("GetSecretValue"):
                raw = self._sm.get_secret_value(SecretId=self._name(user_name), VersionStage=stage)
        except AwsError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        doc = json.loads(raw.get("SecretString") or "{}")
        return doc if isinstance(doc, dict) else None

    def _ensure(self, user_name: str, owner_arn: str) -> str:
        """Create the secret (no value yet) on first use; let its owner read it."""
        name = self._name(user_name)
        if user_name in self._arns and not owner_arn:
            return name
        if self._describe(user_name) is None:
            self._create(user_name)
        if owner_arn:
            self._grant_owner(name, owner_arn)
        return name

    def _create(self, user_name: str) -> None:
        tags: list[TagTypeDef] = [
            {"Key": codec.TAG_MANAGED_BY, "Value": "keyturn"},
            {"Key": codec.TAG_USER, "Value": user_name},
        ]
        extra: dict[str, Any] = {"KmsKeyId": self._kms_key_id} if self._kms_key_id else {}
        try:
            with aws_call("CreateSecret"):
                created = self._sm.create_secret(
                    Name=self._name(user_name),
                    Description=f"Access key of IAM user {user_name}, rotated by keyturn",
                    Tags=tags,
                    **extra,
                )
            self._arns[user_name] = created["ARN"]
        except AwsError as exc:
            if exc.code != EXISTS:
                raise
            self._describe(user_name)

    def _grant_owner(self, name: str, owner_arn: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnerReadsOwnKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": owner_arn},
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": "*",
                }
            ],
        }
        with aws_call("PutResourcePolicy"):
            self._sm.put_resource_policy(
                SecretId=name, ResourcePolicy=json.dumps(policy), BlockPublicPolicy=True
            )
