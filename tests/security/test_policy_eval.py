"""The policy evaluator itself, on a table of requests whose outcome AWS documents.

Each row is one request against small documents; the evaluator must reach AWS's decision. The
operator rows follow the IAM reference's "Condition operators" page, the decision rows its
"Policy evaluation logic" (same account, cross account, role trust and key policies, SCPs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from tests.security.policy_eval import (
    ContextValue,
    Document,
    Outcome,
    Request,
    UnsupportedPolicyError,
    evaluate,
)

ALICE = "arn:aws:iam::111111111111:role/alice"
BOB = "arn:aws:iam::222222222222:role/bob"
QUEUE = "arn:aws:sqs:us-east-1:111111111111:work"
ALLOWED, EXPLICIT, IMPLICIT = Outcome.ALLOWED, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY


def policy(*statements: Mapping[str, object]) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str = "*", resource: str = "*", **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "*", resource: str = "*", **extra: object) -> dict[str, object]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(operator: str, key: str, value: object) -> dict[str, object]:
    """An Allow of everything on one condition."""
    return allow(Condition={operator: {key: value}})


@dataclass(frozen=True)
class Case:
    name: str
    statement: Mapping[str, object]
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    expected: Outcome = ALLOWED


# One identity policy with one statement, for ALICE's SendMessage on QUEUE.
STATEMENTS = [
    Case("an Allow of the action", allow("sqs:SendMessage", QUEUE)),
    Case("actions match in any case", allow("SQS:sendmessage", QUEUE)),
    Case("an action wildcard", allow("sqs:Send*", QUEUE)),
    Case("another action", allow("sqs:ReceiveMessage", QUEUE), expected=IMPLICIT),
    Case(
        "NotAction leaves it out",
        {"Effect": "Allow", "NotAction": "sqs:*", "Resource": "*"},
        expected=IMPLICIT,
    ),
    Case(
        "NotAction of another service", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    ),
    Case("a resource wildcard across :", allow("sqs:SendMessage", "arn:aws:sqs:*")),
    Case("? is one character", allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:wor?")),
    Case("resources match in case", allow("sqs:SendMessage", QUEUE.upper()), expected=IMPLICIT),
    Case(
        "[ is no character class", allow("sqs:SendMessage", QUEUE[:-1] + "[k]"), expected=IMPLICIT
    ),
    Case("NotResource of another", {"Effect": "Allow", "Action": "*", "NotResource": QUEUE + "2"}),
    Case("a Deny wins", deny("sqs:*"), expected=EXPLICIT),
    # StringEquals / StringNotEquals, one key present or absent
    Case(
        "StringEquals, equal",
        when("StringEquals", "aws:SourceAccount", "1"),
        {"aws:SourceAccount": "1"},
    ),
    Case(
        "StringEquals, other",
        when("StringEquals", "aws:SourceAccount", "1"),
        {"aws:SourceAccount": "2"},
        IMPLICIT,
    ),
    Case(
        "StringEquals, values OR'd",
        when("StringEquals", "aws:SourceAccount", ["2", "1"]),
        {"aws:SourceAccount": "1"},
    ),
    Case("StringEquals, case counts", when("StringEquals", "k:x", "A"), {"k:x": "a"}, IMPLICIT),
    Case("StringEquals, key absent", when("StringEquals", "aws:SourceAccount", "1"), {}, IMPLICIT),
    Case(
        "key names in any case",
        when("StringEquals", "AWS:SOURCEACCOUNT", "1"),
        {"aws:SourceAccount": "1"},
    ),
    Case("StringNotEquals, other", when("StringNotEquals", "k:x", "a"), {"k:x": "b"}),
    Case("StringNotEquals, equal", when("StringNotEquals", "k:x", "a"), {"k:x": "a"}, IMPLICIT),
    Case("StringNotEquals, key absent", when("StringNotEquals", "k:x", "a"), {}),
    Case(
        "StringNotEquals, none of the values",
        when("StringNotEquals", "k:x", ["a", "b"]),
        {"k:x": "b"},
        IMPLICIT,
    ),
    Case("StringEqualsIgnoreCase", when("StringEqualsIgnoreCase", "k:x", "ABC"), {"k:x": "abc"}),
    Case("StringLike", when("StringLike", "k:x", "key*/?"), {"k:x": "keyturn/a"}),
    Case(
        "StringLike, no match", when("StringLike", "k:x", "key*/?"), {"k:x": "keyturn/ab"}, IMPLICIT
    ),
    Case("StringNotLike, key absent", when("StringNotLike", "k:x", "a*"), {}),
    Case("StringNotLike, match", when("StringNotLike", "k:x", "a*"), {"k:x": "abc"}, IMPLICIT),
    Case("...IfExists, key absent", when("StringEqualsIfExists", "k:x", "a"), {}),
    Case(
        "...IfExists, key present", when("StringEqualsIfExists", "k:x", "a"), {"k:x": "b"}, IMPLICIT
    ),
    # ARNs: each part apart
    Case(
        "ArnLike",
        when("ArnLike", "aws:SourceArn", "arn:aws:cloudwatch:*:1:alarm:*"),
        {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:x"},
    ),
    Case(
        "ArnLike, * stays in its part",
        when("ArnLike", "aws:SourceArn", "arn:aws:cloudwatch:*:alarm:x"),
        {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:x"},
        IMPLICIT,
    ),
    Case(
        "ArnEquals takes wildcards too",
        when("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::1:role/k-*"),
        {"aws:PrincipalArn": "arn:aws:iam::1:role/k-x"},
    ),
    Case(
        "ArnEquals, another role",
        when("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::1:role/k"),
        {"aws:PrincipalArn": "arn:aws:iam::1:role/k-evil"},
        IMPLICIT,
    ),
    Case(
        "ArnEquals, not an ARN",
        when("ArnEquals", "aws:SourceArn", "arn:aws:s3:::b"),
        {"aws:SourceArn": "b"},
        IMPLICIT,
    ),
    Case(
        "ArnNotEquals, another role",
        when("ArnNotEquals", "aws:PrincipalArn", "arn:aws:iam::1:role/k"),
        {"aws:PrincipalArn": "arn:aws:iam::1:role/x"},
    ),
    Case("ArnNotLike, key absent", when("ArnNotLike", "aws:SourceArn", "arn:*"), {}),
    Case(
        "ArnNotLike, match",
        when("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/alice"),
        {},
        IMPLICIT,
    ),
    # Bool, Null, Numeric
    Case(
        "Bool true",
        when("Bool", "secretsmanager:BlockPublicPolicy", "true"),
        {"secretsmanager:BlockPublicPolicy": True},
    ),
    Case(
        "Bool false",
        when("Bool", "secretsmanager:BlockPublicPolicy", "true"),
        {"secretsmanager:BlockPublicPolicy": False},
        IMPLICIT,
    ),
    Case(
        "Bool, key absent", when("Bool", "secretsmanager:BlockPublicPolicy", "true"), {}, IMPLICIT
    ),
    Case(
        "Bool, YAML's true",
        when("Bool", "aws:SecureTransport", True),
        {"aws:SecureTransport": "True"},
    ),
    Case(
        "BoolIfExists, key absent", when("BoolIfExists", "aws:MultiFactorAuthPresent", "true"), {}
    ),
    Case("Null true, key absent", when("Null", "aws:TokenIssueTime", "true"), {}),
    Case(
        "Null true, key present",
        when("Null", "aws:TokenIssueTime", "true"),
        {"aws:TokenIssueTime": "t"},
        IMPLICIT,
    ),
    Case(
        "Null false, key present",
        when("Null", "aws:TokenIssueTime", "false"),
        {"aws:TokenIssueTime": "t"},
    ),
    Case(
        "NumericLessThan",
        when("NumericLessThan", "aws:MultiFactorAuthAge", "3600"),
        {"aws:MultiFactorAuthAge": 60},
    ),
    Case(
        "NumericLessThan, over",
        when("NumericLessThan", "aws:MultiFactorAuthAge", "3600"),
        {"aws:MultiFactorAuthAge": 7200},
        IMPLICIT,
    ),
    # Set operators on a multivalued key
    Case(
        "ForAnyValue, one matches",
        when("ForAnyValue:StringLike", "aws:TagKeys", "keyturn:*"),
        {"aws:TagKeys": ["team", "keyturn:managed"]},
    ),
    Case(
        "ForAnyValue, none matches",
        when("ForAnyValue:StringLike", "aws:TagKeys", "keyturn:*"),
        {"aws:TagKeys": ["team"]},
        IMPLICIT,
    ),
    Case(
        "ForAnyValue, key absent",
        when("ForAnyValue:StringLike", "aws:TagKeys", "keyturn:*"),
        {},
        IMPLICIT,
    ),
    Case(
        "ForAnyValue, no values",
        when("ForAnyValue:StringLike", "aws:TagKeys", "keyturn:*"),
        {"aws:TagKeys": []},
        IMPLICIT,
    ),
    Case(
        "ForAllValues, all match",
        when("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"]),
        {"aws:TagKeys": ["b", "a"]},
    ),
    Case(
        "ForAllValues, one does not",
        when("ForAllValues:StringEquals", "aws:TagKeys", ["a"]),
        {"aws:TagKeys": ["a", "c"]},
        IMPLICIT,
    ),
    Case("ForAllValues, key absent", when("ForAllValues:StringEquals", "aws:TagKeys", ["a"]), {}),
    Case(
        "ForAnyValue:StringNotLike",
        when("ForAnyValue:StringNotLike", "aws:TagKeys", "keyturn:*"),
        {"aws:TagKeys": ["keyturn:x", "team"]},
    ),
    Case(
        "ForAllValues:StringNotLike",
        when("ForAllValues:StringNotLike", "aws:TagKeys", "keyturn:*"),
        {"aws:TagKeys": ["keyturn:x", "team"]},
        IMPLICIT,
    ),
    # Several keys and operators are AND'd
    Case(
        "two keys, both hold",
        allow(Condition={"StringEquals": {"k:a": "1", "k:b": "2"}}),
        {"k:a": "1", "k:b": "2"},
    ),
    Case(
        "two keys, one fails",
        allow(Condition={"StringEquals": {"k:a": "1", "k:b": "2"}}),
        {"k:a": "1", "k:b": "3"},
        IMPLICIT,
    ),
    Case(
        "two operators, one fails",
        allow(Condition={"StringEquals": {"k:a": "1"}, "Bool": {"k:b": "true"}}),
        {"k:a": "1"},
        IMPLICIT,
    ),
    # Keys the request brings by itself
    Case("aws:PrincipalArn is the caller", when("ArnEquals", "aws:PrincipalArn", ALICE)),
    Case(
        "aws:PrincipalAccount is its account",
        when("StringEquals", "aws:PrincipalAccount", "111111111111"),
    ),
    Case(
        "a Deny on a negated key that is absent",
        deny(Condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}),
        expected=EXPLICIT,
    ),
]


@pytest.mark.parametrize("case", STATEMENTS, ids=[c.name for c in STATEMENTS])
def test_one_identity_statement(case: Case) -> None:
    request = Request(ALICE, "sqs:SendMessage", QUEUE, case.context)
    assert evaluate(request, [policy(case.statement)]).outcome is case.expected


@dataclass(frozen=True)
class Decide:
    name: str
    principal: str
    identity: Sequence[Document] = ()
    resource_policy: Document | None = None
    scps: Sequence[Document] | None = None
    must: bool = False
    expected: Outcome = ALLOWED
    resource: str = QUEUE


ANYTHING = policy(allow())
TO_ALICE = policy({**allow(), "Principal": {"AWS": ALICE}})
TO_BOB = policy({**allow(), "Principal": {"AWS": BOB}})
TO_BOBS_ACCOUNT = policy({**allow(), "Principal": {"AWS": "arn:aws:iam::222222222222:root"}})
TO_OWN_ACCOUNT = policy({**allow(), "Principal": {"AWS": "111111111111"}})
TO_EVERYONE = policy({**allow(), "Principal": "*"})
DENY_ALL_BUT_ALICE = policy(
    {
        **deny(),
        "Principal": {"AWS": "*"},
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ALICE}},
    }
)
TO_CLOUDWATCH = policy({**allow(), "Principal": {"Service": "cloudwatch.amazonaws.com"}})
FULL_ACCESS = policy(allow())
SCP_DENY_SQS = policy(deny("sqs:*"))
ROLE = "arn:aws:iam::111111111111:role/target"
TRUST_ACCOUNT_OF_BOB = policy(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "222222222222"}}
)

DECISIONS = [
    Decide("same account: an identity Allow is enough", ALICE, [ANYTHING]),
    Decide("same account: nothing allows", ALICE, expected=IMPLICIT),
    Decide(
        "same account: the resource policy names the principal", ALICE, resource_policy=TO_ALICE
    ),
    Decide(
        "same account: root in the resource policy defers to IAM",
        ALICE,
        resource_policy=TO_OWN_ACCOUNT,
        expected=IMPLICIT,
    ),
    Decide("same account: root and an identity Allow", ALICE, [ANYTHING], TO_OWN_ACCOUNT),
    Decide(
        "a resource policy Deny beats an identity Allow",
        BOB,
        [ANYTHING],
        DENY_ALL_BUT_ALICE,
        expected=EXPLICIT,
    ),
    Decide("...and spares the one it excepts", ALICE, [ANYTHING], DENY_ALL_BUT_ALICE),
    Decide("cross account: identity alone is not enough", BOB, [ANYTHING], expected=IMPLICIT),
    Decide(
        "cross account: the resource policy alone is not enough", BOB, [], TO_BOB, expected=IMPLICIT
    ),
    Decide("cross account: both sides allow", BOB, [ANYTHING], TO_BOB),
    Decide(
        "cross account: the other account's root and its identity Allow",
        BOB,
        [ANYTHING],
        TO_BOBS_ACCOUNT,
    ),
    Decide(
        "cross account: a grant to another principal", BOB, [ANYTHING], TO_ALICE, expected=IMPLICIT
    ),
    Decide("Principal * names everyone", BOB, [ANYTHING], TO_EVERYONE),
    Decide("a service named in the resource policy", "cloudwatch.amazonaws.com", [], TO_CLOUDWATCH),
    Decide("a service not named", "events.amazonaws.com", [], TO_CLOUDWATCH, expected=IMPLICIT),
    Decide(
        "a service is never bound by SCPs",
        "cloudwatch.amazonaws.com",
        [],
        TO_CLOUDWATCH,
        [SCP_DENY_SQS],
    ),
    Decide(
        "a key policy must allow: identity alone is not enough",
        ALICE,
        [ANYTHING],
        must=True,
        expected=IMPLICIT,
    ),
    Decide(
        "a key policy naming the account defers to IAM",
        ALICE,
        [ANYTHING],
        TO_OWN_ACCOUNT,
        must=True,
    ),
    Decide(
        "a trust policy naming another account, no identity Allow",
        BOB,
        [],
        TRUST_ACCOUNT_OF_BOB,
        must=True,
        expected=IMPLICIT,
        resource=ROLE,
    ),
    Decide(
        "a trust policy naming another account, identity Allow",
        BOB,
        [policy(allow("sts:AssumeRole", ROLE))],
        TRUST_ACCOUNT_OF_BOB,
        must=True,
        resource=ROLE,
    ),
    Decide(
        "an SCP Deny beats everything",
        ALICE,
        [ANYTHING],
        TO_ALICE,
        [FULL_ACCESS, SCP_DENY_SQS],
        expected=EXPLICIT,
    ),
    Decide(
        "SCPs that allow nothing",
        ALICE,
        [ANYTHING],
        scps=[policy(allow("iam:*"))],
        expected=IMPLICIT,
    ),
    Decide("SCPs allow, identity decides", ALICE, [ANYTHING], scps=[FULL_ACCESS]),
]


@pytest.mark.parametrize("case", DECISIONS, ids=[c.name for c in DECISIONS])
def test_decision(case: Decide) -> None:
    request = Request(case.principal, "sqs:SendMessage", case.resource)
    if case.resource == ROLE:
        request = Request(case.principal, "sts:AssumeRole", case.resource)
    decision = evaluate(
        request, case.identity, case.resource_policy, case.scps, resource_must_allow=case.must
    )
    assert decision.outcome is case.expected, decision


UNREADABLE = [
    ("an unknown operator", when("DateGreaterThan", "aws:CurrentTime", "2020-01-01")),
    ("an unknown set prefix", when("ForSomeValues:StringEquals", "aws:TagKeys", "a")),
    ("a policy variable", allow("sqs:*", "arn:aws:sqs:*:*:${aws:username}")),
    ("a Principal in an identity policy", {**allow(), "Principal": "*"}),
    ("no Resource in an identity policy", {"Effect": "Allow", "Action": "*"}),
    ("no Effect", {"Action": "*", "Resource": "*"}),
]


@pytest.mark.parametrize(("name", "statement"), UNREADABLE, ids=[n for n, _ in UNREADABLE])
def test_what_it_cannot_read_raises(name: str, statement: Mapping[str, object]) -> None:
    del name
    with pytest.raises(UnsupportedPolicyError):
        evaluate(Request(ALICE, "sqs:SendMessage", QUEUE), [policy(statement)])


def test_a_plain_operator_on_a_multivalued_key_raises() -> None:
    request = Request(ALICE, "sqs:SendMessage", QUEUE, {"aws:TagKeys": ["a", "b"]})
    with pytest.raises(UnsupportedPolicyError):
        evaluate(request, [policy(when("StringEquals", "aws:TagKeys", "a"))])


def test_resource_policy_without_principal_and_not_principal_raise() -> None:
    request = Request(ALICE, "sqs:SendMessage", QUEUE)
    with pytest.raises(UnsupportedPolicyError):
        evaluate(request, resource_policy=policy(allow()))
    not_principal = {**deny(), "NotPrincipal": {"AWS": ALICE}}
    with pytest.raises(UnsupportedPolicyError):
        evaluate(request, resource_policy=policy(not_principal))


def test_a_decision_says_which_statement_denied() -> None:
    statement = {**deny("sqs:*"), "Sid": "NoQueues"}
    decision = evaluate(Request(ALICE, "sqs:SendMessage", QUEUE), [policy(statement)])
    assert str(decision) == "explicit deny: identity policy 0 NoQueues"
