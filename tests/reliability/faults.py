"""Fault injection through botocore's own event hooks on the real clients keyturn builds.

Every fault goes through the emulator's real HTTP path except the one being injected:

* ``error`` and ``denied``: a ``before-call`` handler answers the call with an error response
  (InternalFailure/500, AccessDenied/403), which botocore parses like any other;
* ``throttled``: a ``before-send`` handler answers *every HTTP attempt* of the call with a 400
  Throttling response, so botocore's standard retry mode really retries, then gives up;
* ``crash``: an ``after-call`` handler raises :class:`SimulatedCrash` (a ``BaseException``, so
  no ``except Exception`` in keyturn can swallow it) right after the call succeeded: the effect
  happened in the emulator and the process "died" before seeing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

MUTATING_OPERATIONS = frozenset(
    {
        "iam:CreateAccessKey",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "secrets-manager:CreateSecret",
        "secrets-manager:PutSecretValue",
        "secrets-manager:UpdateSecretVersionStage",
        "secrets-manager:PutResourcePolicy",
        "secrets-manager:TagResource",
        "secrets-manager:UntagResource",
        "secrets-manager:RotateSecret",
        "sns:Publish",
    }
)


class SimulatedCrash(BaseException):
    """The process died right after an AWS call succeeded."""


class FaultKind(StrEnum):
    ERROR = "error-500"
    THROTTLED = "throttled"
    DENIED = "access-denied"
    CRASH = "crash-after-success"


@dataclass
class FaultInjector:
    """Counts the AWS calls of a run and faults the one at index ``target``.

    Install it on a boto3 session *before* clients are created: botocore copies the session's
    handlers into every client it makes.
    """

    kind: FaultKind | None = None
    target: int | None = None
    calls: list[str] = field(default_factory=list)
    fired: bool = False
    attempts: int = 0
    """HTTP attempts botocore made for the throttled call (retries included)."""
    target_status: int | None = None
    """HTTP status the targeted call ended with (a crash only follows a success)."""

    def install(self, events: Any) -> None:
        events.register("before-call", self._before_call)
        events.register("before-send", self._before_send)
        events.register("after-call", self._after_call)

    def _on_target(self) -> bool:
        return self.target is not None and len(self.calls) - 1 == self.target

    def _before_call(self, model: Any, **_: Any) -> Any:
        service = model.service_model.service_id.hyphenize()
        self.calls.append(f"{service}:{model.name}")
        self._protocol = model.service_model.protocol
        if not self._on_target():
            return None
        if self.kind is FaultKind.ERROR:
            self.fired = True
            return error_response(500, "InternalFailure", "injected internal failure")
        if self.kind is FaultKind.DENIED:
            self.fired = True
            return error_response(403, "AccessDenied", "injected: not authorized")
        return None

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.kind is not FaultKind.THROTTLED or not self._on_target():
            return None
        self.fired = True
        self.attempts += 1
        return _throttling_response(request.url, self._protocol)

    def _after_call(self, http_response: Any, **_: Any) -> None:
        if not self._on_target():
            return
        self.target_status = http_response.status_code
        if self.kind is FaultKind.CRASH and http_response.status_code < 300:
            self.fired = True
            raise SimulatedCrash(self.calls[-1])


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class _FakeHttp:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def error_response(status: int, code: str, message: str) -> tuple[_FakeHttp, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return _FakeHttp(status), parsed


def _throttling_response(url: str, protocol: str) -> AWSResponse:
    if protocol == "json":
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>injected</RequestId>"
            b"</ErrorResponse>"
        )
        content_type = "text/xml"
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    return AWSResponse(url, 400, headers, _Body(body))
