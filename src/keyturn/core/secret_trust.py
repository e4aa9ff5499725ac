"""Whether a secret at keyturn's name is one keyturn may write a key into.

Whoever creates a secret can set any tag on it, so a tag proves nothing. keyturn trusts a
secret only if what Secrets Manager reports about it is what keyturn itself would have made:

* its KMS key is the configured one (``KEYTURN_KMS_KEY_ID``), or the AWS managed key
  ``aws/secretsmanager`` when none is configured;
* it has no rotation function but keyturn's own;
* it has no replica (keyturn never makes one);
* its resource policy is the document keyturn writes (:mod:`keyturn.core.secret_policy`).

One exception keeps a crash between ``CreateSecret`` and ``PutResourcePolicy`` repairable: a
secret with *no* policy that is otherwise exactly what keyturn's ``CreateSecret`` makes (the
KMS key above, no rotation function, no replica, no version, no tag but keyturn's two creation
tags and perhaps an in-flight mark) is keyturn's unfinished creation
(:meth:`SecretTrust.unfinished`); keyturn puts its policy on it before anything else. Whoever
made such a secret gains nothing: it holds nothing, and once the policy is on nobody else can
read or change it.

The in-flight mark rides in a first rotation's ``CreateSecret``, so an unfinished creation may
carry one, and so may a secret planted to look like one. Such a mark is never believed
(:func:`mark_unfounded`): keyturn calls ``CreateAccessKey`` only once its policy is on, so no
key of keyturn's can be in flight for a secret without a policy, and believing the mark could
make keyturn take someone else's key for its own undelivered one (and delete it). The state
is read with the mark ignored, and the claim that finishes the creation replaces the mark.

Pure: the adapters gather the facts, this module judges them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from keyturn.core.codec import TAG_MANAGED_BY, TAG_PENDING_SINCE, TAG_USER
from keyturn.core.secret_policy import same_policy, secret_policy

AWS_MANAGED_KEY = "alias/aws/secretsmanager"
_PRINCIPAL = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_FUNCTION = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$")


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


@dataclass(frozen=True)
class SecretFacts:
    """What DescribeSecret and GetResourcePolicy report about one secret."""

    arn: str
    kms_key_id: str | None = None
    rotation_function_arn: str | None = None
    replica_regions: tuple[str, ...] = ()
    policy: Any = None
    """The parsed resource policy, or None when the secret has none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    version_ids: tuple[str, ...] = ()
    """The versions DescribeSecret lists (those with a staging label)."""


def creation_tags(user_name: str) -> dict[str, str]:
    """The tags keyturn's ``CreateSecret`` puts on a user's secret."""
    return {TAG_MANAGED_BY: "keyturn", TAG_USER: user_name}


def without_mark(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` without the in-flight mark."""
    return {k: v for k, v in tags.items() if k != TAG_PENDING_SINCE}


def mark_unfounded(tags: Mapping[str, str], version_ids: Sequence[str], has_policy: bool) -> bool:
    """True if the secret's in-flight mark cannot be a rotation keyturn started: there is a
    mark, but no version and no resource policy (keyturn creates a key only after its policy
    is on). Such a mark is read as no mark. A secret with a version needs no look at its
    policy here: without keyturn's, the claim refuses it before anything is changed."""
    return bool(tags.get(TAG_PENDING_SINCE)) and not version_ids and not has_policy


@dataclass(frozen=True)
class SecretTrust:
    """What a secret keyturn owns looks like, for this deployment."""

    keyturn_principals: tuple[str, ...]
    """The roles keyturn runs as: they alone may change the secret."""
    kms_key_id: str | None = None
    rotation_function_arns: tuple[str, ...] = field(default=())
    """Rotation functions that are keyturn's, besides the function keyturn runs in."""
    own_function_name: str | None = None
    """The Lambda function keyturn runs in (``AWS_LAMBDA_FUNCTION_NAME``), if any."""

    def policy_for(self, owner_arn: str) -> dict[str, Any]:
        """The resource policy keyturn writes on ``owner_arn``'s secret."""
        return secret_policy(owner_arn, self.keyturn_principals)

    def distrust(self, facts: SecretFacts, owner_arn: str) -> str | None:
        """Why the secret is not one keyturn made for ``owner_arn``, or None if it is."""
        home = parse_arn(facts.arn)
        if home is None:
            return f"its ARN {facts.arn!r} is not an ARN"
        for reason in (
            self._kms_problem(facts.kms_key_id, home),
            self._rotation_problem(facts.rotation_function_arn, home),
            _replica_problem(facts.replica_regions),
        ):
            if reason:
                return reason
        if facts.policy is None:
            return "it has no resource policy"
        if not same_policy(facts.policy, self.policy_for(owner_arn)):
            return "its resource policy is not the one keyturn writes"
        return None

    def unfinished(self, facts: SecretFacts, user_name: str, owner_arn: str) -> bool:
        """True if the secret is what keyturn's ``CreateSecret`` made and nothing more (its
        tags, perhaps an in-flight mark, which is not believed): a first run stopped before
        ``PutResourcePolicy``. keyturn may put its policy on it."""
        return (
            facts.policy is None
            and not facts.version_ids
            and without_mark(facts.tags) == creation_tags(user_name)
            and self.distrust(replace(facts, policy=self.policy_for(owner_arn)), owner_arn) is None
        )

    def _kms_problem(self, found: str | None, home: Arn) -> str | None:
        wanted = self.kms_key_id or AWS_MANAGED_KEY
        if found is None and self.kms_key_id is None:
            return None
        if found is not None and same_kms_key(wanted, found, home):
            return None
        return f"its KMS key is {found or AWS_MANAGED_KEY}, not {wanted}"

    def _rotation_problem(self, found: str | None, home: Arn) -> str | None:
        if not found:
            return None
        unqualified = _unqualified(found)
        if unqualified in {_unqualified(a) for a in self.rotation_function_arns}:
            return None
        arn = parse_arn(unqualified)
        if (
            self.own_function_name
            and arn is not None
            and (arn.partition, arn.service, arn.region, arn.account)
            == (home.partition, "lambda", home.region, home.account)
            and arn.resource == f"function:{self.own_function_name}"
        ):
            return None
        return f"it is rotated by {found}, not by keyturn"


def _replica_problem(regions: Sequence[str]) -> str | None:
    if not regions:
        return None
    return f"it is replicated to {', '.join(regions)}"


def _unqualified(function_arn: str) -> str:
    """A Lambda function ARN without its version or alias (``...:function:NAME``)."""
    return ":".join(function_arn.split(":")[:7])


def same_kms_key(configured: str, found: str, home: Arn) -> bool:
    """True if ``found`` (DescribeSecret's ``KmsKeyId``) names the ``configured`` key.

    Both may be a key id, a key ARN, an alias name (``alias/x``) or an alias ARN. A bare id or
    alias names a key in the secret's own account and region. They match when they name the
    same key id, or the same alias, there. An alias and the key behind it do not match (that
    takes KMS to resolve): configure the form Secrets Manager reports, the key ARN is safest.
    """
    return _kms_reference(configured, home) == _kms_reference(found, home)


def _kms_reference(text: str, home: Arn) -> tuple[str, str, str, str]:
    arn = parse_arn(text)
    if arn is not None:
        return (arn.partition, arn.region, arn.account, arn.resource)
    resource = text if text.startswith("alias/") else f"key/{text}"
    return (home.partition, home.region, home.account, resource)


def principal_problem(arn: str) -> str | None:
    """Why ``arn`` cannot be one of keyturn's principals (an IAM role or user ARN), or None."""
    if _PRINCIPAL.match(arn):
        return None
    return f"{arn!r} is not the ARN of an IAM role or user (arn:aws:iam::ACCOUNT:role/NAME)"


def function_problem(arn: str) -> str | None:
    """Why ``arn`` cannot be a rotation function's ARN, or None."""
    if _FUNCTION.match(arn):
        return None
    return f"{arn!r} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
