"""The IAM credential report: generate, wait until COMPLETE, download, parse.

IAM regenerates a report at most every 4 hours; asking again within that time answers
COMPLETE at once with the existing one. Waiting for a report is polling a job, not retrying a
failure, so it sleeps between polls (with backoff, injectable for tests); transient errors on
each call are still botocore's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.core.credential_report import CredentialReport, parse_report
from keyturn.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class Backoff:
    """Polling schedule: ``first`` seconds, multiplied by ``factor``, capped, ``attempts`` times."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 16.0
    attempts: int = 15

    def delays(self) -> list[float]:
        return [min(self.cap, self.first * self.factor**n) for n in range(self.attempts)]


class IamCredentialReports:
    """A CredentialReportSource on IAM."""

    def __init__(
        self,
        client: IAMClient,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._iam = client
        self._backoff = backoff or Backoff()
        self._sleep = sleep

    def fetch(self) -> CredentialReport:
        """The current report, generating one first if needed.

        Raises:
            AwsError: IAM failed, or the report was not ready after the whole backoff.
        """
        self._wait_until_complete()
        with aws_call("GetCredentialReport"):
            answer = self._iam.get_credential_report()
        content = answer.get("Content", b"")
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        generated = answer.get("GeneratedTime")
        return parse_report(text, generated if isinstance(generated, datetime) else None)

    def start(self) -> None:
        """Ask IAM to generate a report without waiting for it (see :meth:`fetch`)."""
        with aws_call("GenerateCredentialReport"):
            self._iam.generate_credential_report()

    def _wait_until_complete(self) -> None:
        for delay in [0.0, *self._backoff.delays()]:
            if delay:
                self._sleep(delay)
            with aws_call("GenerateCredentialReport"):
                state = self._iam.generate_credential_report().get("State")
            if state == COMPLETE:
                return
        raise AwsError("GenerateCredentialReport", "ReportNotReady", "gave up waiting")
