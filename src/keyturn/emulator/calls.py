"""Counting AWS calls made through a boto3 session (botocore ``before-call`` events).

Register before creating clients: clients copy the session's event handlers when made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

READ_PREFIXES = ("Get", "List", "Describe", "Generate")
"""GenerateCredentialReport writes nothing a user sees; it is counted with the reads."""


@dataclass
class CallCounter:
    """Counts calls per ``service.Operation``."""

    calls: Counter[str] = field(default_factory=Counter)

    def attach(self, session: boto3.Session) -> CallCounter:
        session.events.register("before-call", self._count)
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self, service: str | None = None) -> int:
        return sum(
            n for op, n in self.calls.items() if service is None or op.startswith(service + ".")
        )

    def mutating(self) -> int:
        return sum(n for op, n in self.calls.items() if not _is_read(op))

    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if _is_read(op))

    def reset(self) -> None:
        self.calls.clear()


def _is_read(operation: str) -> bool:
    return operation.partition(".")[2].startswith(READ_PREFIXES)
