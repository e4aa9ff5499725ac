"""The resource policy keyturn writes on every secret it owns, and how a found one is compared.

An identity policy allowing ``secretsmanager:GetSecretValue`` on ``keyturn/*`` would otherwise
read every managed key. The document therefore *denies*, whatever identity policies allow:

* reading the value to everyone but the rotated user and keyturn's own principals;
* changing the secret (its value, labels, tags, policy, rotation, replicas, deletion) to
  everyone but keyturn's own principals.

The rotated user keeps an explicit Allow to read its own key. Explicit Deny wins over any Allow
in AWS's evaluation, so the only readers are the ones named here. Pure: no AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

VERSION = "2012-10-17"
OWNER_SID = "OwnerReadsOwnKey"
READ_SID = "OnlyOwnerAndKeyturnRead"
CHANGE_SID = "OnlyKeyturnChanges"
OWNER_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
READ_ACTIONS = ("secretsmanager:GetSecretValue",)
"""``BatchGetSecretValue`` is authorised as ``GetSecretValue`` on each secret, so it is covered."""
CHANGE_ACTIONS = (
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteSecret",
    # Beyond the list: each of these would undo what the check trusts (the value, the
    # KMS key, the policy, the rotation function, the replicas).
    "secretsmanager:UpdateSecret",
    "secretsmanager:DeleteResourcePolicy",
    "secretsmanager:RotateSecret",
    "secretsmanager:CancelRotateSecret",
    "secretsmanager:ReplicateSecretToRegions",
)
PRINCIPAL_KEY = "aws:PrincipalArn"
_ASSUMED_ROLE = re.compile(r"^arn:(?P<p>[\w-]+):sts::(?P<a>\d{12}):assumed-role/(?P<n>[^/]+)/.+$")
_LIST_FIELDS = ("Action", "NotAction", "Resource", "NotResource")


def secret_policy(owner_arn: str, keyturn_principal_arns: Sequence[str]) -> dict[str, Any]:
    """The resource policy of the secret holding ``owner_arn``'s key.

    Parameters:
        owner_arn: the rotated IAM user's ARN (path included, as ``aws:PrincipalArn`` has it).
        keyturn_principal_arns: the roles (or users) keyturn runs as; order does not matter.

    Raises:
        ValueError: no keyturn principal, or no owner.
    """
    keyturn = sorted(set(keyturn_principal_arns))
    if not keyturn or not owner_arn:
        raise ValueError("a secret policy needs its owner and at least one keyturn principal")
    readers = sorted({owner_arn, *keyturn})
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": OWNER_SID,
                "Effect": "Allow",
                "Principal": {"AWS": owner_arn},
                "Action": list(OWNER_ACTIONS),
                "Resource": "*",
            },
            _deny_all_but(READ_SID, READ_ACTIONS, readers),
            _deny_all_but(CHANGE_SID, CHANGE_ACTIONS, keyturn),
        ],
    }


def _deny_all_but(sid: str, actions: Iterable[str], principals: list[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(actions),
        "Resource": "*",
        "Condition": {"ArnNotEquals": {PRINCIPAL_KEY: principals}},
    }


def same_policy(found: object, expected: Mapping[str, Any]) -> bool:
    """True if ``found`` (a parsed document) says exactly what ``expected`` says.

    Insensitive only to how AWS may re-serialise a document: the order of statements and of
    list elements, a one-element list written as its element, ``"*"`` as ``{"AWS": "*"}``.
    Anything else (one more statement, another principal, a condition) makes them differ.
    """
    return isinstance(found, Mapping) and _canonical(found) == _canonical(expected)


def _canonical(doc: Mapping[str, Any]) -> object:
    statements = doc.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return ("unreadable", repr(statements))
    canon = sorted(repr(_statement(s)) for s in statements)
    return (doc.get("Version"), tuple(canon))


def _statement(statement: object) -> object:
    if not isinstance(statement, Mapping):
        return ("unreadable", repr(statement))
    canon: dict[str, object] = {}
    for name, value in statement.items():
        if name in _LIST_FIELDS:
            canon[name] = _values(value)
        elif name in {"Principal", "NotPrincipal"}:
            canon[name] = _principal(value)
        elif name == "Condition" and isinstance(value, Mapping):
            canon[name] = _condition(value)
        else:
            canon[name] = value
    return sorted(canon.items())


def _values(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(sorted(str(v) for v in items))


def _principal(value: object) -> object:
    if value == "*":
        value = {"AWS": "*"}
    if not isinstance(value, Mapping):
        return ("unreadable", repr(value))
    return tuple(sorted((str(kind), _values(ids)) for kind, ids in value.items()))


def _condition(value: Mapping[str, Any]) -> object:
    canon = []
    for operator, tests in value.items():
        if not isinstance(tests, Mapping):
            return ("unreadable", repr(value))
        keys = tuple(sorted((str(k).lower(), _values(v)) for k, v in tests.items()))
        canon.append((str(operator), keys))
    return tuple(sorted(canon))


def principal_arn(caller_arn: str) -> str:
    """The ``aws:PrincipalArn`` of a caller, from STS ``GetCallerIdentity``'s ARN.

    An assumed-role session ``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` becomes the role's
    ARN ``arn:aws:iam::ACCT:role/NAME``. The session ARN does not carry the role's path, so a
    role under a path (``/team/``) comes out without it and would not match; set
    ``KEYTURN_TRUSTED_PRINCIPAL_ARNS`` for such roles (the template does, always). Any other ARN
    (an IAM user, a federated user) is already what ``aws:PrincipalArn`` holds.
    """
    match = _ASSUMED_ROLE.match(caller_arn)
    if match is None:
        return caller_arn
    return f"arn:{match['p']}:iam::{match['a']}:role/{match['n']}"
