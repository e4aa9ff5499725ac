"""A small IAM policy evaluator: may this principal make this request, by AWS's rules?

moto evaluates no IAM resource scoping, condition or resource policy, so keyturn's security
tests ask this module instead. :func:`evaluate` decides one :class:`Request` against identity
policies, a resource policy and service control policies as AWS's policy evaluation logic does:

1. an explicit Deny in any of them denies;
2. SCPs, when given, must allow it (an Allow in at least one of them);
3. a resource policy that names the principal itself (its ARN, ``*``, its service) allows on its
   own within the resource's account; one that names the principal's account (``...:root``)
   leaves the decision to the identity policies; across accounts both sides must allow;
4. a role's trust policy and a KMS key policy must allow (``resource_must_allow``): an identity
   policy alone never does;
5. otherwise an identity policy's Allow allows, and anything else is the implicit deny.

Conditions (:mod:`tests.security.policy_conditions`): ``String*``, ``Arn*``, ``Bool``,
``Null`` and ``Numeric*`` operators, with ``...IfExists`` and the ``ForAnyValue:`` and
``ForAllValues:`` set prefixes. The values of one key are OR'd; keys and operators are AND'd. A
key the request lacks makes a positive operator false and a negated one (``StringNotEquals``,
``ArnNotLike``...) true; ``ForAllValues`` is then true, ``ForAnyValue`` false. What it cannot
read (policy variables, ``NotPrincipal``, other operators) raises
:class:`UnsupportedPolicyError`, so no test passes on a document it misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from tests.security.policy_conditions import (
    UnsupportedPolicyError,
    condition_holds,
    glob,
    text,
    values,
)

__all__ = [
    "ContextValue",
    "Decision",
    "Document",
    "Outcome",
    "Request",
    "UnsupportedPolicyError",
    "evaluate",
]

Document = Mapping[str, object]
"""A parsed policy document (``{"Version": ..., "Statement": [...]}``)."""
ContextValue = str | bool | int | Sequence[str]
"""A request context value; a sequence is a multivalued key such as ``aws:TagKeys``."""

SERVICE_SUFFIX = ".amazonaws.com"


class Outcome(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.reason}"


@dataclass(frozen=True)
class Request:
    """One request: who (``principal``: a role's or user's ARN, or a service principal such as
    ``cloudwatch.amazonaws.com``; empty when unknown, then taken to be in the resource's
    account), what, on which resource, and the context keys the request carries.
    ``aws:PrincipalArn``, ``aws:PrincipalAccount`` and ``aws:PrincipalServiceName`` are filled
    in from ``principal`` unless given."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    @property
    def is_service(self) -> bool:
        return self.principal.endswith(SERVICE_SUFFIX)

    @property
    def principal_account(self) -> str | None:
        return _arn_account(self.principal)

    @property
    def resource_account(self) -> str | None:
        return _arn_account(self.resource)

    def value(self, key: str) -> tuple[str, ...] | None:
        """The request's values of context key ``key`` (names are case-insensitive)."""
        values = {k.lower(): v for k, v in self._implied().items()}
        values.update({k.lower(): v for k, v in self.context.items()})
        found = values.get(key.lower())
        if found is None:
            return None
        if isinstance(found, str | bool | int):
            return (text(found),)
        return tuple(text(v) for v in found)

    def _implied(self) -> dict[str, ContextValue]:
        if self.is_service:
            return {"aws:PrincipalServiceName": self.principal}
        account = self.principal_account
        if account is None:
            return {}
        return {"aws:PrincipalArn": self.principal, "aws:PrincipalAccount": account}


def evaluate(
    request: Request,
    identity: Iterable[Document] = (),
    resource_policy: Document | None = None,
    scps: Sequence[Document] | None = None,
    *,
    resource_must_allow: bool = False,
) -> Decision:
    """Whether AWS would allow ``request`` (see the module docstring for the rules)."""
    identity = list(identity)
    scps = None if request.is_service else scps  # SCPs bind an organization's principals only
    sources = [(f"identity policy {i}", d, False) for i, d in enumerate(identity)]
    if resource_policy is not None:
        sources.append(("resource policy", resource_policy, True))
    sources += [(f"SCP {i}", d, False) for i, d in enumerate(scps or ())]
    for name, document, with_principal in sources:
        for statement in _matching(document, request, "Deny", with_principal):
            return Decision(Outcome.EXPLICIT_DENY, f"{name} {_sid(statement)}")
    if scps is not None and not any(_matching(d, request, "Allow", False) for d in scps):
        return Decision(Outcome.IMPLICIT_DENY, "no SCP allows it")
    identity_allows = any(_matching(d, request, "Allow", False) for d in identity)
    grant = _resource_grant(resource_policy, request)
    return _decide(request, identity_allows, grant, resource_must_allow=resource_must_allow)


class _Grant(Enum):
    NONE = 0
    ACCOUNT = 1  # the resource policy names the principal's account: identity policies decide
    DIRECT = 2  # it names the principal itself (or everyone)


def _decide(
    request: Request, identity_allows: bool, grant: _Grant, *, resource_must_allow: bool
) -> Decision:
    if request.is_service:
        if grant is _Grant.DIRECT:
            return Decision(Outcome.ALLOWED, "the resource policy names the service")
        return Decision(Outcome.IMPLICIT_DENY, "no resource policy names the service")
    principal_account, resource_account = request.principal_account, request.resource_account
    # An unknown principal or an account-less resource ("*"): the identity policies' own account.
    same_account = None in (principal_account, resource_account)
    same_account = same_account or principal_account == resource_account
    if same_account and grant is _Grant.DIRECT:
        return Decision(Outcome.ALLOWED, "the resource policy names the principal")
    if grant is not _Grant.NONE and identity_allows:
        return Decision(Outcome.ALLOWED, "the resource policy and an identity policy allow it")
    if same_account and identity_allows and not resource_must_allow:
        return Decision(Outcome.ALLOWED, "an identity policy allows it")
    if grant is not _Grant.NONE:
        why = "no identity policy allows it"
    elif not identity_allows:
        why = "nothing allows it"
    elif resource_must_allow:
        why = "the resource policy does not allow it"
    else:
        why = "the resource policy of another account does not allow it"
    return Decision(Outcome.IMPLICIT_DENY, why)


def _resource_grant(document: Document | None, request: Request) -> _Grant:
    if document is None:
        return _Grant.NONE
    best = _Grant.NONE
    for statement in _statements(document):
        if statement["Effect"] == "Allow" and _applies(statement, request, resource_policy=True):
            best = max(best, _principal_match(statement, request), key=lambda g: g.value)
    return best


def _matching(
    document: Document, request: Request, effect: str, resource_policy: bool
) -> list[Mapping[str, object]]:
    found = []
    for statement in _statements(document):
        if statement["Effect"] != effect:
            continue
        if not _applies(statement, request, resource_policy=resource_policy):
            continue
        if resource_policy and _principal_match(statement, request) is _Grant.NONE:
            continue
        found.append(statement)
    return found


def _statements(document: Document) -> list[Mapping[str, object]]:
    raw = document.get("Statement", [])
    statements: list[Mapping[str, object]] = []
    for statement in raw if isinstance(raw, list) else [raw]:
        if not isinstance(statement, Mapping):
            raise UnsupportedPolicyError(f"a statement is not an object: {statement!r}")
        statements.append(statement)
        if statement.get("Effect") not in {"Allow", "Deny"}:
            raise UnsupportedPolicyError(f"Effect must be Allow or Deny: {statement!r}")
        if "NotPrincipal" in statement:
            raise UnsupportedPolicyError("NotPrincipal is not implemented")
    return statements


def _applies(statement: Mapping[str, object], request: Request, *, resource_policy: bool) -> bool:
    """Action, resource and conditions match (a resource policy's principal is checked apart).

    Only a resource policy may name a Principal and leave out the Resource (a trust policy)."""
    has_principal = "Principal" in statement
    if has_principal and not resource_policy:
        raise UnsupportedPolicyError("a Principal in an identity policy or SCP")
    if resource_policy and not has_principal:
        raise UnsupportedPolicyError("a resource policy statement without Principal")
    if not _element_matches(statement, "Action", request.action, ignore_case=True):
        return False
    has_resource = "Resource" in statement or "NotResource" in statement
    if (has_resource or not resource_policy) and not _element_matches(
        statement, "Resource", request.resource
    ):
        return False
    condition = statement.get("Condition", {})
    if not isinstance(condition, Mapping):
        raise UnsupportedPolicyError(f"Condition is not an object: {condition!r}")
    return all(
        condition_holds(operator, key, values(expected), request.value(key))
        for operator, pairs in condition.items()
        for key, expected in _pairs(pairs)
    )


def _element_matches(
    statement: Mapping[str, object], name: str, value: str, *, ignore_case: bool = False
) -> bool:
    """Action/NotAction or Resource/NotResource: IAM's wildcards, actions in any case."""
    negated = f"Not{name}"
    if name not in statement and negated not in statement:
        raise UnsupportedPolicyError(f"a statement has neither {name} nor {negated}")
    patterns = values(statement.get(name, statement.get(negated)))
    hit = any(glob(p, ignore_case=ignore_case).fullmatch(value) for p in patterns)
    return hit if name in statement else not hit


def _principal_match(statement: Mapping[str, object], request: Request) -> _Grant:
    principal = statement.get("Principal")
    if principal == "*":
        return _Grant.DIRECT
    if not isinstance(principal, Mapping):
        raise UnsupportedPolicyError(f"Principal must be * or an object: {principal!r}")
    best = _Grant.NONE
    for kind, names in principal.items():
        if kind not in {"AWS", "Service", "Federated"}:
            raise UnsupportedPolicyError(f"Principal kind {kind} is not implemented")
        for name in values(names):
            best = max(best, _one_principal(kind, name, request), key=lambda g: g.value)
    return best


def _one_principal(kind: str, name: str, request: Request) -> _Grant:
    if kind == "AWS" and name == "*":
        return _Grant.DIRECT
    if kind == "AWS" and not request.is_service:
        account = name if re.fullmatch(r"\d{12}", name) else None
        match = re.fullmatch(r"arn:[\w-]+:iam::(\d{12}):root", name)
        account = match.group(1) if match else account
        if account is not None:
            return _Grant.ACCOUNT if account == request.principal_account else _Grant.NONE
    return _Grant.DIRECT if name == request.principal else _Grant.NONE


# --- small helpers -------------------------------------------------------------------------


def _pairs(pairs: object) -> list[tuple[str, object]]:
    if not isinstance(pairs, Mapping):
        raise UnsupportedPolicyError(f"a condition block is not an object: {pairs!r}")
    return [(str(k), v) for k, v in pairs.items()]


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and re.fullmatch(r"\d{12}", parts[4]):
        return parts[4]
    return None


def _sid(statement: Mapping[str, object]) -> str:
    return str(statement.get("Sid", "(no Sid)"))
