"""The fan-out message: one (account, user) to look at in a run. No secret is ever in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from keyturn.errors import BadRequestError

ACCOUNT_ID = re.compile(r"^\d{12}$")
USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


@dataclass(frozen=True)
class WorkItem:
    account_id: str
    user_name: str
    run_id: str

    def __post_init__(self) -> None:
        if not ACCOUNT_ID.match(self.account_id):
            raise BadRequestError(f"not an AWS account id: {self.account_id[:20]!r}")
        if not USER_NAME.match(self.user_name):
            raise BadRequestError(f"not an IAM user name: {self.user_name[:70]!r}")

    def to_body(self) -> str:
        return json.dumps(
            {"account_id": self.account_id, "user_name": self.user_name, "run_id": self.run_id},
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
        return cls(account_id, user_name, run_id)
