"""Issue 6.5: after each lifecycle phase the current key works and every retired key fails.

moto's IAM authentication is enforced for each probe (STS GetCallerIdentity signed with the
key under test), with moto patched to reject inactive keys as AWS does. Phases: first key,
rotation, warning, deactivation, restore, the restored-over key's deactivation, deletion, and a
second rotation. Every key the user ever had is probed after every phase: the AWSCURRENT key
must authenticate, a previous key still in its grace period may, and every deactivated or
deleted key must be rejected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from keyturn.emulator import EmbeddedAws
from keyturn.rotation.rotator import Rotator

from .conftest import report
from .live import authenticates
from .world import REMINDER, USER, KeyFacts, World

Phase = tuple[str, timedelta, Callable[[Rotator], object]]
PHASES: tuple[Phase, ...] = (
    ("first key", timedelta(0), lambda r: r.run()),
    ("rotation (on demand)", timedelta(days=1), lambda r: r.rotate(USER)),
    ("deactivation warning", timedelta(days=7, hours=12), lambda r: r.run()),
    ("deactivation", timedelta(days=8, minutes=1), lambda r: r.run()),
    ("restore", timedelta(days=9), lambda r: r.restore(USER)),
    ("deactivation after restore", timedelta(days=16, minutes=2), lambda r: r.run()),
    ("deletion", timedelta(days=23, minutes=3), lambda r: r.run()),
    ("rotation (scheduled)", timedelta(days=81), lambda r: r.run()),
    ("deletion of the older key", timedelta(days=95, minutes=4), lambda r: r.run()),
)


def test_current_key_works_and_retired_keys_fail_after_every_phase(aws: EmbeddedAws) -> None:
    world = World(aws, reminder=REMINDER)  # its phases include the opt-in reminder
    world.add_user()
    ever: dict[str, str] = {}
    tally: Counter[str] = Counter()
    problems: list[str] = []
    for name, offset, operation in PHASES:
        world.at(offset)
        operation(world.rotator())
        keys = world.access_keys()
        ever.update({k.key_id: k.secret for k in keys.values()})
        current = world.secret_doc("AWSCURRENT")
        assert current is not None, name
        for key_id, secret in ever.items():
            role = _role(key_id, current, world.secret_doc("AWSPREVIOUS"), keys)
            works = authenticates(aws, key_id, secret)
            tally[f"{role} {'accepted' if works else 'rejected'}"] += 1
            if works != (role in {"current", "previous in grace"}):
                problems.append(
                    f"after {name}: {role} key {key_id} {'works' if works else 'fails'}"
                )
    summary = ", ".join(f"{k} {n}" for k, n in sorted(tally.items()))
    report(
        "live keys",
        f"{len(PHASES)} phases, {len(ever)} keys, each probed after every phase: {summary}",
    )
    assert problems == []
    assert tally["retired (inactive) rejected"]
    assert tally["retired (deleted) rejected"]


def _role(
    key_id: str, current: dict[str, str], previous: dict[str, str] | None, keys: dict[str, KeyFacts]
) -> str:
    if key_id == current["AccessKeyId"]:
        return "current"
    if key_id not in keys:
        return "retired (deleted)"
    if keys[key_id].status != "Active":
        return "retired (inactive)"
    if previous is not None and key_id == previous["AccessKeyId"]:
        return "previous in grace"
    return "unexpected active"
