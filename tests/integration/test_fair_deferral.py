"""Issue 12.3 on moto server: a run short of time takes the oldest keys first, and the next
run starts with the users it deferred."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, event, keys_of, make_user

AGES = {"ann": 81, "bob": 95, "cid": 88, "dee": 120, "eve": 84}
"""Five due users; by urgency: dee, bob, cid, eve, ann."""


@dataclass
class ShortInvocation(LambdaContext):
    """An invocation with time to read every user and to start ``rotations`` rotations: after
    that, less time is left than one worst-case rotation needs (but enough for reading)."""

    rotations: int = 2
    asked: count[int] = field(default_factory=count)

    def get_remaining_time_in_millis(self) -> int:
        return 900_000 if next(self.asked) < len(AGES) + self.rotations else 100_000


def statuses(response: dict[str, Any]) -> dict[str, str]:
    return {u["UserName"]: u["status"] for u in response["body"]["users"]}


def test_deferred_users_lead_the_next_run(aws: EmbeddedAws) -> None:
    # GIVEN five managed users whose keys are due, of different ages
    for name, age in AGES.items():
        make_user(aws, name, key_ages=(age,), tags={"keyturn:managed": "true"})
    # WHEN a scheduled run has time for two rotations
    first = lambda_handler(event("scheduled"), ShortInvocation())
    # THEN it rotates the two oldest keys and defers the other three, untouched
    assert statuses(first) == {
        "dee": "changed",
        "bob": "changed",
        "cid": "deferred",
        "eve": "deferred",
        "ann": "deferred",
    }
    assert first["body"]["deferred"] == 3
    assert all(len(keys_of(aws, n)) == 1 for n in ("cid", "eve", "ann"))
    # WHEN the next run has time for two as well
    second = lambda_handler(event("scheduled"), ShortInvocation(aws_request_id="req-0002"))
    # THEN it starts with the deferred users, oldest key first, not with the same two again
    assert statuses(second) == {
        "dee": "unchanged",
        "bob": "unchanged",
        "cid": "changed",
        "eve": "changed",
        "ann": "deferred",
    }
    assert second["body"]["deferred"] == 1
    # AND the third reaches the last one
    third = lambda_handler(event("scheduled"), ShortInvocation(aws_request_id="req-0003"))
    assert statuses(third)["ann"] == "changed"
    assert "deferred" not in third["body"]
    assert all(len(keys_of(aws, n)) == 2 for n in AGES)
