"""Which AWS calls the handler makes, and whether a policy document allows each of them.

``recorded_calls()`` records every operation made through boto3 sessions created inside it,
with its parameters; ``allows()`` asks keyturn's policy evaluator
(``tests/security/policy_eval.py``: wildcards, Deny over Allow, conditions as AWS evaluates
them) whether an identity policy allows one of them, and ``request_context()`` gives the
condition keys a recorded call's parameters set. A condition on a key the request lacks holds
only for a negated operator, as in AWS: the audit errs towards "denied", never "allowed".
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from keyturn.wiring import forget_clients
from tests.security.policy_eval import ContextValue, Request, evaluate


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]

    @property
    def action(self) -> str:
        """The IAM action: for these services the endpoint prefix is the action's prefix."""
        return f"{self.service}:{self.operation}"


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)
    key_owner: dict[str, str] = field(default_factory=dict)
    """Access key id -> user name, from the ListAccessKeys and CreateAccessKey answers."""


@contextmanager
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recording]:
    """Record the calls of every boto3 session created inside the block."""
    recording = Recording()

    def before(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        recording.calls.append(Call(service, model.name, dict(params)))

    def after(parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        for meta in parsed.get("AccessKeyMetadata", []):
            recording.key_owner[meta["AccessKeyId"]] = meta["UserName"]
        if "AccessKey" in parsed and "UserName" in parsed["AccessKey"]:
            key = parsed["AccessKey"]
            recording.key_owner[key["AccessKeyId"]] = key["UserName"]

    class RecordingSession(boto3.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-parameter-build.*.*", before)
            self.events.register("after-call.iam.*", after)

    with monkeypatch.context() as patch:
        patch.setattr(boto3, "Session", RecordingSession)
        forget_clients()  # keyturn reuses clients across invocations; record fresh ones
        yield recording
    forget_clients()


def policy_document(raw: Any) -> dict[str, Any]:
    """A policy document as the IAM API returned it, as CloudFormation would have written it.

    moto hands some documents back as a Python repr, and keeps a statement that was
    ``!Ref AWS::NoValue`` as null where CloudFormation drops it.
    """
    if isinstance(raw, dict):
        document = raw
    else:
        try:
            document = json.loads(raw)
        except json.JSONDecodeError:
            document = ast.literal_eval(raw)
    statements = [s for s in listed(document["Statement"]) if s is not None]
    return {**document, "Statement": statements}


def listed(value: Any) -> list[Any]:
    """A policy element that may be one value or a list, as a list."""
    return value if isinstance(value, list) else [value]


REQUEST_KEYS = {
    "BlockPublicPolicy": "secretsmanager:BlockPublicPolicy",
    "ExternalId": "sts:ExternalId",
}
"""Request parameters that AWS puts into the request context, and the key it gives each."""


def request_context(call: Call) -> dict[str, ContextValue]:
    """The condition keys a recorded call's own parameters set."""
    return {key: call.params[name] for name, key in REQUEST_KEYS.items() if name in call.params}


def allows(
    policy: Mapping[str, Any],
    action: str,
    resource: str,
    tags: Mapping[str, str] | None = None,
    context: Mapping[str, ContextValue] | None = None,
) -> bool:
    """Whether identity policy `policy` allows `action` on `resource`, for a resource with
    `tags` (``aws:ResourceTag/...``) and a request carrying the condition keys `context`."""
    keys: dict[str, ContextValue] = {f"aws:ResourceTag/{k}": v for k, v in (tags or {}).items()}
    keys.update(context or {})
    return evaluate(Request("", action, resource, keys), [policy]).allowed
