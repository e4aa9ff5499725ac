"""The fan-out message: one (account, user) to look at in a run. No secret is ever in it.

A message is a claim, not an order: anyone who may send to the queue can write one. Its ids are
checked here with whole-string ASCII patterns; whether its account is one the fleet covers is
the worker's check (:mod:`keyturn.fleet.worker`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from keyturn.core.inputs import is_account_id, is_user_name
from keyturn.core.rollout import Mode
from keyturn.errors import BadRequestError

RUN_ID = re.compile(r"[A-Za-z0-9._:-]{0,64}")
"""A run id (the dispatcher's Lambda request id): ASCII, no spaces, at most 64 characters."""


@dataclass(frozen=True)
class WorkItem:
    account_id: str
    user_name: str
    run_id: str
    mode: Mode = Mode.ACT
    """The dispatcher's mode for the account; the worker never acts beyond its own settings."""

    def __post_init__(self) -> None:
        if not is_account_id(self.account_id):
            raise BadRequestError(f"not an AWS account id: {self.account_id[:20]!r}")
        if not is_user_name(self.user_name):
            raise BadRequestError(f"not an IAM user name: {self.user_name[:70]!r}")
        if not RUN_ID.fullmatch(self.run_id):
            raise BadRequestError(f"not a run id: {self.run_id[:70]!r}")
        if not isinstance(self.mode, Mode):
            raise BadRequestError(f"not a mode: {str(self.mode)[:20]!r}")

    def to_body(self) -> str:
        return json.dumps(
            {
                "account_id": self.account_id,
                "user_name": self.user_name,
                "run_id": self.run_id,
                "mode": self.mode.value,
            },
            sort_keys=True,
        )

    @classmethod
    def from_body(cls, body: str) -> WorkItem:
        """Parse a message body.

        Raises:
            BadRequestError: the body is not a work item (a poison message).
        """
        try:
            raw = json.loads(body)
        except (TypeError, ValueError):
            raise BadRequestError("message body is not JSON") from None
        if not isinstance(raw, dict):
            raise BadRequestError("message body is not a JSON object")
        fields = (raw.get("account_id"), raw.get("user_name"), raw.get("run_id", ""))
        if not all(isinstance(f, str) for f in fields):
            raise BadRequestError("message needs string account_id, user_name and run_id")
        account_id, user_name, run_id = (str(f) for f in fields)
        mode = raw.get("mode", Mode.ACT.value)  # a message from before modes: act, as it was
        if not isinstance(mode, str) or mode not in {m.value for m in Mode}:
            raise BadRequestError(f"message mode must be act or audit, not {str(mode)[:20]!r}")
        return cls(account_id, user_name, run_id, Mode(mode))
