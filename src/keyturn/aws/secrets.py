"""The per-user secret in AWS Secrets Manager: key material, rotation record and state marks.

Reads always name ``VersionStage="AWSCURRENT"`` (or AWSPREVIOUS) explicitly. Nothing is
written into a secret before it is claimed (:meth:`SecretsManagerStore.claim`): created by
keyturn with its resource policy, or found to be exactly what keyturn would have made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from keyturn.aws.errors import aws_call
from keyturn.core import codec
from keyturn.core.delivery import (
    CURRENT,
    PENDING,
    PREVIOUS,
    Delivery,
    Marks,
    SecretRef,
    StagedVersion,
)
from keyturn.core.models import StoredState
from keyturn.core.secret_trust import (
    SecretFacts,
    SecretTrust,
    creation_tags,
    mark_unfounded,
    without_mark,
)
from keyturn.errors import AwsError, ConcurrentDeliveryError, RefusedError, StateUnreadableError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import FilterTypeDef, TagTypeDef

NOT_FOUND = "ResourceNotFoundException"
ABSENT: dict[str, Any] = {}
"""The memo's answer for a secret that does not exist."""
EXISTS = "ResourceExistsException"


class SecretsManagerStore:
    """The secret store and its versions (``Secrets``) on Secrets Manager, one secret per user
    named ``<prefix><user>``.

    ``trust`` says what a secret keyturn owns looks like (its KMS key, keyturn's principals for
    the resource policy, keyturn's rotation functions); a callable is resolved on first use, so
    that finding keyturn's own identity costs a call only when a secret is claimed.

    Each user's ``DescribeSecret`` is read once per look at the user (:meth:`forget` starts a
    new one) and kept up to date with keyturn's own writes, so a rotation reads it once. With
    ``metadata_only`` (the auditor), no secret value is ever read: the state comes from the
    ``keyturn:current`` mirror, and a user whose mirror is missing or stale raises
    :class:`~keyturn.errors.StateUnreadableError`.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        prefix: str = "keyturn/",
        *,
        trust: SecretTrust | Callable[[], SecretTrust],
        metadata_only: bool = False,
    ) -> None:
        self._sm = client
        self._prefix = prefix
        self._trust_source = trust
        self._trust: SecretTrust | None = trust if isinstance(trust, SecretTrust) else None
        self._metadata_only = metadata_only
        self._arns: dict[str, str] = {}
        self._verdicts: dict[str, str | None] = {}
        """User -> None (keyturn's secret) or why it is not; one check per user per run."""
        self._described: dict[str, Any] = {}
        """User -> DescribeSecret's answer (ABSENT: no secret), updated by keyturn's writes."""
        self._staged: dict[str, dict[str, Any]] = {}
        """Version id -> the document keyturn staged under it in this run."""
        self._unmirrored: dict[str, str] = {}
        """User -> the mirror its AWSCURRENT version lacks, written with the next marks."""
        self._trust_lock = threading.Lock()
        """A run works on many users at once: the trust is resolved once for all of them. The
        per-user dicts need no lock: each user is handled by one thread at a time, and a dict's
        single reads and writes are atomic."""

    def forget(self, user_name: str) -> None:
        """Start a new look at ``user_name``: the next read goes to Secrets Manager."""
        self._described.pop(user_name, None)
        self._unmirrored.pop(user_name, None)

    def locate(self, user_name: str) -> SecretRef:
        return SecretRef(self._name(user_name), self._arns.get(user_name, ""))

    def read_state(self, user_name: str) -> StoredState | None:
        described = self._describe(user_name)
        if described is None:
            return None
        tags = _tags(described)
        versions = tuple(described.get("VersionIdsToStages") or {})
        # a mark on a secret without a version is believed only once keyturn's policy is on
        # (an unfinished creation, or one planted to look like it, has no key in flight); the
        # policy is read only for such a mark, and never by the auditor, which may not read
        # policies: it shows the plan as if the policy were on
        suspect = not self._metadata_only and mark_unfounded(tags, versions, has_policy=False)
        if suspect and self._policy(user_name) is None:
            tags[codec.TAG_PENDING_SINCE] = ""
        return codec.state_from(self._current_document(user_name, described, tags), tags)

    def _current_document(
        self, user_name: str, described: Any, tags: dict[str, str]
    ) -> dict[str, Any] | None:
        """The AWSCURRENT document's non-secret fields: from the mirror when it describes the
        current version, else (writers only) from the version itself."""
        stages = described.get("VersionIdsToStages") or {}
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        if current is None:
            return None
        mirror = codec.parse_mirror(tags.get(codec.TAG_CURRENT))
        if mirror is not None and mirror.version_id == current:
            return mirror.document
        if self._metadata_only:
            why = "its mirror is stale" if mirror else "it predates the mirror"
            raise StateUnreadableError(user_name, why)
        doc = self._document(user_name, CURRENT)
        if doc is not None and (value := codec.mirror_tag(current, doc)) is not None:
            self._unmirrored[user_name] = value
        return doc

    def stage(self, delivery: Delivery) -> SecretRef:
        user = delivery.key.user_name
        doc = codec.document(delivery)
        body = json.dumps(doc)
        self.claim(user, delivery.owner_arn)
        try:
            with aws_call("PutSecretValue"):
                answer = self._sm.put_secret_value(
                    SecretId=self._name(user),
                    SecretString=body,
                    ClientRequestToken=delivery.token,
                    VersionStages=[PENDING],
                )
        except AwsError as exc:
            self._described.pop(user, None)  # it may or may not have landed; others write too
            if exc.code == EXISTS:
                raise ConcurrentDeliveryError(exc.operation, exc.code, "token in use") from None
            raise
        self._staged[delivery.token] = doc
        labels = answer.get("VersionStages")
        known = self._described.get(user)
        if known and isinstance(labels, list):
            # What Secrets Manager attached (AWSCURRENT too on a secret's first version), from
            # its answer: never assumed from this run's view, which another run may have moved.
            known.setdefault("VersionIdsToStages", {})[delivery.token] = [str(x) for x in labels]
        else:
            self._described.pop(user, None)
        return self.locate(user)

    def promote(self, user_name: str, version_id: str, marks: Marks | None = None) -> SecretRef:
        """Move AWSCURRENT to the version, then write ``marks``, the version's mirror and the
        emptied in-flight mark in one TagResource. A crash before the move leaves the mark, so
        the staged key is undelivered; a crash between the move and the tag leaves a delivered
        key with a stale mirror (readers see it is stale and read the version) and a stale
        in-flight mark; the next run empties it and writes the lost marks back (the planner's
        CLEAR_PENDING for a delivered key). A version that is AWSCURRENT already (a secret's
        first) needs no move."""
        stages = self._stages(user_name)
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        doc = self._staged.get(version_id) or self._version_document(user_name, version_id)
        mirror = codec.mirror_tag(version_id, doc) if doc else None
        if current != version_id:
            self._move_current(user_name, version_id, current, list(stages))
        self.set_marks(user_name, replace(marks or Marks(), mirror=mirror, clear_pending=True))
        return self.locate(user_name)

    def _move_current(
        self, user_name: str, version_id: str, current: str | None, versions: list[str]
    ) -> None:
        extra: dict[str, Any] = {"RemoveFromVersionId": current} if current else {}
        try:
            with aws_call("UpdateSecretVersionStage"):
                self._sm.update_secret_version_stage(
                    SecretId=self._owned(user_name),
                    VersionStage=CURRENT,
                    MoveToVersionId=version_id,
                    **extra,
                )
        except AwsError:
            self._described.pop(user_name, None)  # the move may have happened
            raise
        for other in versions:
            self._relabel(user_name, other, remove=PREVIOUS)
        if current:
            self._relabel(user_name, current, add=PREVIOUS, remove=CURRENT)
        self._relabel(user_name, version_id, add=CURRENT)

    def unstage(self, user_name: str, version_id: str) -> None:
        if PENDING not in self._stages(user_name).get(version_id, ()):
            return
        with aws_call("UpdateSecretVersionStage"):
            self._sm.update_secret_version_stage(
                SecretId=self._owned(user_name),
                VersionStage=PENDING,
                RemoveFromVersionId=version_id,
            )
        self._relabel(user_name, version_id, remove=PENDING)

    def _version_document(self, user_name: str, version_id: str) -> dict[str, Any] | None:
        """A version's document (a promotion of a version staged in another invocation)."""
        try:
            with aws_call("GetSecretValue"):
                raw = self._sm.get_secret_value(
                    SecretId=self._name(user_name), VersionId=version_id
                )
        except AwsError:
            return None  # no mirror then; the promotion itself reports real failures
        try:
            doc = json.loads(raw.get("SecretString") or "{}")
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

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
        tags = _tags(described)
        name = described["Name"]
        user = tags.get(codec.TAG_USER) or (
            name[len(self._prefix) :] if name.startswith(self._prefix) else ""
        )
        if not user or name != self._name(user):
            raise RefusedError(name, f"not a keyturn secret (expected {self._prefix}<user>)")
        self._arns[user] = described["ARN"]
        self._described[user] = described
        return user

    def in_grace(self) -> list[str]:
        """One filtered ListSecrets (paginated): keyturn's secrets under this prefix whose
        ``keyturn:in-grace`` names a key (``grace:KEY_ID``; emptied tags are not listed); the
        user is the ``keyturn:user`` tag, checked against the name."""
        filters: list[FilterTypeDef] = [
            {"Key": "tag-key", "Values": [codec.TAG_IN_GRACE]},
            # tag-value matches any tag's value by prefix: only a key in grace starts so
            # (a deactivation empties the tag rather than removing it)
            {"Key": "tag-value", "Values": [codec.IN_GRACE_PREFIX]},
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
            listed_here = codec.in_grace_listed(tags.get(codec.TAG_IN_GRACE))
            if user and secret.get("Name") == self._name(user) and listed_here:
                self._arns[user] = secret["ARN"]
                users.append(user)
        return users

    def claim(self, user_name: str, owner_arn: str, in_flight: Marks | None = None) -> None:
        """Create the user's secret with keyturn's policy, or check the one found is keyturn's.

        ``in_flight`` (a rotation's first step) is the in-flight mark the rotation is about to
        write: a secret created now carries it in ``CreateSecret``'s tags, and an unfinished
        creation finished now gets it in place of the mark it held (never believed).

        Raises:
            RefusedError: the secret at keyturn's name is someone else's; nothing was written.
        """
        if user_name not in self._verdicts:
            mark = _in_flight_tag(in_flight)
            self._verdicts[user_name] = self._judge(user_name, owner_arn, mark)
        self._owned(user_name)

    def set_marks(self, user_name: str, marks: Marks) -> None:
        """One TagResource at most; tags already as wanted cost nothing. A mirror the current
        version lacks goes along with the first marks written."""
        to_set = codec.mark_tags(marks)
        known = self._described.get(user_name)
        if known:
            tags = _tags(known)
            # an emptied tag and an absent one mean the same: emptying an absent one is a no-op
            to_set = {k: v for k, v in to_set.items() if tags.get(k, "") != v}
        if not to_set:
            return
        self._owned(user_name)
        missing = self._unmirrored.pop(user_name, None)
        if missing is not None and codec.TAG_CURRENT not in to_set:
            to_set[codec.TAG_CURRENT] = missing
        self._tag(user_name, to_set)

    def _tag(self, user_name: str, to_set: dict[str, str]) -> None:
        """One TagResource; the memo follows it."""
        with aws_call("TagResource"):
            tag_list: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in to_set.items()]
            self._sm.tag_resource(SecretId=self._name(user_name), Tags=tag_list)
        known = self._described.get(user_name)
        if known:
            tags = {**_tags(known), **to_set}
            known["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]

    def _name(self, user_name: str) -> str:
        return f"{self._prefix}{user_name}"

    def _stages(self, user_name: str) -> dict[str, list[str]]:
        described = self._describe(user_name)
        return dict(described.get("VersionIdsToStages", {})) if described else {}

    def _relabel(self, user_name: str, version_id: str, *, add: str = "", remove: str = "") -> None:
        """Keep the memo's labels as keyturn's own successful write left them."""
        known = self._described.get(user_name)
        if not known:
            return
        stages = known.setdefault("VersionIdsToStages", {})
        labels = [s for s in stages.get(version_id, []) if s != remove]
        if add and add not in labels:
            labels.append(add)
        stages[version_id] = labels

    def _describe(self, user_name: str, *, fresh: bool = False) -> Any:
        """DescribeSecret, once per look at the user unless ``fresh``; None: no secret."""
        known = self._described.get(user_name)
        if known is not None and not fresh:
            return known or None
        try:
            with aws_call("DescribeSecret"):
                described = self._sm.describe_secret(SecretId=self._name(user_name))
        except AwsError as exc:
            if exc.code == NOT_FOUND:
                self._described[user_name] = ABSENT
                return None
            raise
        self._arns[user_name] = described["ARN"]
        self._described[user_name] = described
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

    def _owned(self, user_name: str) -> str:
        """The secret's name, once it is known to be keyturn's; refuses any other."""
        name = self._name(user_name)
        if user_name not in self._verdicts:
            raise RefusedError(user_name, f"secret {name} was not claimed before a write")
        why = self._verdicts[user_name]
        if why is not None:
            raise RefusedError(user_name, f"secret {name} was not created by keyturn: {why}")
        return name

    def _judge(self, user_name: str, owner_arn: str, mark: dict[str, str]) -> str | None:
        """None if the secret is keyturn's (created now, policy first), else why it is not.
        ``mark``: the in-flight mark to create the secret with (may be empty)."""
        if not owner_arn:
            return "keyturn does not know the user's ARN to write its resource policy"
        described = self._describe(user_name)
        if described is None:
            if self._create(user_name, mark):
                self._put_policy(user_name, owner_arn)  # before any value or mark goes in
                return None
            described = self._describe(user_name, fresh=True)  # someone created one meanwhile
            if described is None:
                return "it vanished while keyturn looked at it"
        trust = self._resolved_trust()
        facts = self._facts(user_name, described)
        if trust.unfinished(facts, user_name, owner_arn):
            # keyturn's own creation, stopped before its policy: finish it, then look again
            self._put_policy(user_name, owner_arn)
            return self._recheck(user_name, owner_arn, mark)
        return trust.distrust(facts, owner_arn)

    def _recheck(self, user_name: str, owner_arn: str, mark: dict[str, str]) -> str | None:
        """The verdict on a creation keyturn just finished: nothing may have gone in since but
        an in-flight mark, which was not believed (no policy, no key in flight): it is
        replaced by ``mark`` (this run's, if it is about to rotate) or emptied."""
        described = self._describe(user_name, fresh=True)
        if described is None:
            return "it vanished while keyturn looked at it"
        facts = self._facts(user_name, described)
        if facts.version_ids or without_mark(facts.tags) != creation_tags(user_name):
            return "something was written into it before keyturn's policy was on"
        why = self._resolved_trust().distrust(facts, owner_arn)
        found, wanted = (t.get(codec.TAG_PENDING_SINCE, "") for t in (facts.tags, mark))
        if why is None and found != wanted:
            self._tag(user_name, {codec.TAG_PENDING_SINCE: wanted})
        return why

    def _resolved_trust(self) -> SecretTrust:
        with self._trust_lock:
            if self._trust is None:
                source = self._trust_source
                self._trust = source if isinstance(source, SecretTrust) else source()
            return self._trust

    def _facts(self, user_name: str, described: Any) -> SecretFacts:
        replicas = described.get("ReplicationStatus") or []
        return SecretFacts(
            arn=described["ARN"],
            kms_key_id=described.get("KmsKeyId") or None,
            rotation_function_arn=described.get("RotationLambdaARN") or None,
            replica_regions=tuple(str(r.get("Region", "?")) for r in replicas),
            policy=self._policy(user_name),
            tags=_tags(described),
            version_ids=tuple(described.get("VersionIdsToStages") or {}),
        )

    def _policy(self, user_name: str) -> Any:
        with aws_call("GetResourcePolicy"):
            found = self._sm.get_resource_policy(SecretId=self._name(user_name))
        raw = found.get("ResourcePolicy")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"unreadable": True}

    def _create(self, user_name: str, mark: dict[str, str]) -> bool:
        """Create the secret, without a value, with ``mark`` among its tags; False if one
        appeared at its name meanwhile."""
        tags: list[TagTypeDef] = [
            {"Key": k, "Value": v} for k, v in {**creation_tags(user_name), **mark}.items()
        ]
        kms_key_id = self._resolved_trust().kms_key_id
        extra: dict[str, Any] = {"KmsKeyId": kms_key_id} if kms_key_id else {}
        try:
            with aws_call("CreateSecret"):
                created = self._sm.create_secret(
                    Name=self._name(user_name),
                    Description=f"Access key of IAM user {user_name}, rotated by keyturn",
                    Tags=tags,
                    **extra,
                )
        except AwsError as exc:
            if exc.code != EXISTS:
                raise
            return False
        self._arns[user_name] = created["ARN"]
        self._described[user_name] = {
            "ARN": created["ARN"],
            "Name": self._name(user_name),
            "Tags": tags,
            "VersionIdsToStages": {},
        }
        return True

    def _put_policy(self, user_name: str, owner_arn: str) -> None:
        policy = self._resolved_trust().policy_for(owner_arn)
        with aws_call("PutResourcePolicy"):
            self._sm.put_resource_policy(
                SecretId=self._name(user_name),
                ResourcePolicy=json.dumps(policy),
                BlockPublicPolicy=True,
            )


def _in_flight_tag(marks: Marks | None) -> dict[str, str]:
    """The in-flight mark of ``marks`` as a tag (nothing when it sets none)."""
    if marks is None or marks.pending_since is None:
        return {}
    value = codec.in_flight_value(marks.pending_since, marks.keys_before)
    return {codec.TAG_PENDING_SINCE: value}


def _tags(described: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}
