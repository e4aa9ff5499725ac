"""Deployed roles' policy statements enforced on every call, as IAM would enforce them.

moto's own authentication (``/moto-api/reset-auth``) authorises IAM, Secrets Manager and
most other calls against resource ``*``, so a policy scoped to ``user/keyturn/*`` or to one
secret prefix denies everything there, and it reads no condition. Here every call signed by a
role this module knows is decided by keyturn's policy evaluator
(:mod:`tests.security.policy_eval`) against that role's inline policy as the stacks created
it, on the ARN IAM authorises the call against; an ``AssumeRole`` needs the caller's policy
*and* the target role's trust policy (so a role that was never deployed cannot be entered). A
denied call never reaches the emulator: the client gets ``AccessDenied`` as from AWS.

Calls signed by anyone else (the tests' own setup, a rotated user's key proving itself) pass
unchecked. ``KeyPolicy`` grants that SNS uses on the caller's behalf are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto.iam.models import iam_backends

from keyturn.wiring import forget_clients
from tests.infra.iam_audit import Call, policy_document, request_context
from tests.security.policy_eval import Document, Request, evaluate

REGION = "us-east-1"
QUERY_PROTOCOL = {"iam", "sts", "sns"}
"""Services whose access-denied error code is ``AccessDenied`` (else ``...Exception``)."""
ACTION_OF = {"sqs:SendMessageBatch": "sqs:SendMessage"}
"""Operations IAM authorises as another action."""


@dataclass(frozen=True)
class Identity:
    """A role session: the role's ARN and its identity policy."""

    role_arn: str
    policy: Document

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def name(self) -> str:
        return self.role_arn.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Decided:
    role: str
    call: Call
    resource: str
    allowed: bool


@dataclass
class Enforcer:
    """Which access keys belong to which role, and every decision taken."""

    org_accounts: frozenset[str] = frozenset()
    org_id: str = ""
    identities: dict[str, Identity] = field(default_factory=dict)
    decisions: list[Decided] = field(default_factory=list)

    def know(self, access_key_id: str, role_arn: str) -> None:
        self.identities[access_key_id] = Identity(role_arn, role_document(role_arn))

    @property
    def denied(self) -> list[tuple[str, str, str]]:
        return [(d.role, d.call.action, d.resource) for d in self.decisions if not d.allowed]

    def calls_by(self, role_name: str) -> list[Call]:
        return [d.call for d in self.decisions if d.role == role_name and d.allowed]

    def decide(self, identity: Identity, call: Call) -> bool:
        if call.action == "sts:GetCallerIdentity":
            return True  # needs no permission
        resource = resource_arn(identity.account, call)
        context = dict(request_context(call))
        trust = None
        if call.action == "sts:AssumeRole":
            target_account = resource.split(":")[4]
            if target_account in self.org_accounts:
                context["aws:ResourceOrgID"] = self.org_id
            trust = trust_document(resource)
            if trust is None:  # no such role: AWS answers AccessDenied too
                return self._record(identity, call, resource, allowed=False)
        action = ACTION_OF.get(call.action, call.action)
        request = Request(identity.role_arn, action, resource, context)
        decision = evaluate(request, [identity.policy], trust, resource_must_allow=bool(trust))
        return self._record(identity, call, resource, allowed=decision.allowed)

    def _record(self, identity: Identity, call: Call, resource: str, *, allowed: bool) -> bool:
        self.decisions.append(Decided(identity.name, call, resource, allowed))
        return allowed


def _role(role_arn: str) -> Any:
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    roles = iam_backends[account]["global"].roles.values()
    return next((r for r in roles if r.name == name), None)


def role_document(role_arn: str) -> Document:
    """The role's one inline policy, as its stack created it."""
    role = _role(role_arn)
    assert role is not None, f"no role {role_arn}"
    (document,) = role.policies.values()
    return policy_document(document)


def trust_document(role_arn: str) -> Document | None:
    role = _role(role_arn)
    return None if role is None else policy_document(role.assume_role_policy_document)


def _user_arn(account: str, user_name: str) -> str:
    user = iam_backends[account]["global"].users.get(user_name)
    return str(user.arn) if user else f"arn:aws:iam::{account}:user/{user_name}"


def _key_owner(account: str, key_id: str) -> str | None:
    for user in iam_backends[account]["global"].users.values():
        if any(k.access_key_id == key_id for k in user.access_keys):
            return str(user.name)
    return None


def resource_arn(account: str, call: Call) -> str:  # noqa: PLR0911 - one answer per service
    """The ARN IAM authorises ``call`` against, made by a principal of ``account``."""
    params = call.params
    if call.action == "sts:AssumeRole":
        return str(params["RoleArn"])
    if call.service == "sqs":
        owner, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{REGION}:{owner}:{name}"
    if call.service == "sns":
        return str(params["TopicArn"])
    if call.service == "events":
        (bus,) = {str(e.get("EventBusName", "default")) for e in params["Entries"]}
        return (
            bus if bus.startswith("arn:") else f"arn:aws:events:{REGION}:{account}:event-bus/{bus}"
        )
    if call.service == "iam":
        user = params.get("UserName") or _key_owner(account, params.get("AccessKeyId", ""))
        return "*" if user is None else _user_arn(account, str(user))
    if call.service == "secretsmanager":
        secret = params.get("SecretId") or params.get("Name")
        if secret is None:
            return "*"  # ListSecrets
        if str(secret).startswith("arn:"):
            return str(secret)
        return f"arn:aws:secretsmanager:{REGION}:{account}:secret:{secret}-AbCdEf"
    return "*"  # organizations: listing calls take no resource


def _denial(call: Call, role: str) -> tuple[AWSResponse, dict[str, Any]]:
    code = "AccessDenied" if call.service in QUERY_PROTOCOL else "AccessDeniedException"
    message = f"{role} is not authorized to perform: {call.action} (enforced in tests)"
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    return AWSResponse("https://denied.invalid/", 403, HTTPHeaders(), None), parsed


@contextmanager
def enforced_roles(monkeypatch: pytest.MonkeyPatch, enforcer: Enforcer) -> Iterator[Enforcer]:
    """Enforce the known roles' policies on every boto3 session created inside the block; the
    credentials each ``AssumeRole`` returns are learnt as the assumed role's."""

    def remember(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["enforced_call"] = Call(
            model.service_model.endpoint_prefix, model.name, dict(params)
        )

    def check(model: Any, request_signer: Any, context: dict[str, Any], **_: Any) -> Any:
        call: Call = context["enforced_call"]
        credentials = request_signer._credentials  # who signs this call
        identity = enforcer.identities.get(credentials.access_key) if credentials else None
        if identity is None:
            return None
        if enforcer.decide(identity, call):
            return None
        return _denial(call, identity.name)

    def learn(parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name == "AssumeRole" and "Credentials" in parsed:
            call: Call = context["enforced_call"]
            enforcer.know(parsed["Credentials"]["AccessKeyId"], str(call.params["RoleArn"]))

    class EnforcingSession(boto3.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-parameter-build.*.*", remember)
            self.events.register("before-call.*.*", check)
            self.events.register("after-call.sts.AssumeRole", learn)

    with monkeypatch.context() as patch:
        patch.setattr(boto3, "Session", EnforcingSession)
        forget_clients()
        yield enforcer
    forget_clients()


def assume(aws_sts: Any, role_arn: str, enforcer: Enforcer, name: str) -> dict[str, str]:
    """Credentials of ``role_arn`` as Lambda hands them to a function, known to ``enforcer``."""
    creds = aws_sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
    enforcer.know(creds["AccessKeyId"], role_arn)
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
