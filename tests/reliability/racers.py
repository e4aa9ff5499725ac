"""What each of the concurrent runs does: build keyturn as the CLI does and run or rotate.

Lives in its own module so that spawned worker processes import only this, not the tests.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from keyturn.errors import KeyturnError, RefusedError
from keyturn.rotation.results import RunResult
from keyturn.settings import Scope, Settings
from keyturn.wiring import build_rotator
from tests.integration.authed_aws import FAST_PROOF

_start: Any = None
_LOADER = botocore.loaders.create_loader()
"""One model loader per process: each racer builds its own clients, in milliseconds."""


def join(barrier: Any) -> None:
    """Pool initializer: remember the barrier every racer waits at before starting."""
    global _start  # noqa: PLW0603 - one barrier per worker process, set once at start
    _start = barrier


def race(url: str, topic_arn: str, user: str, command: str, barrier: Any = None) -> str:
    """Wait for the others, then run keyturn once; the outcome as one word."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        botocore_session=core,
    )
    settings = Settings(
        topic_arn=topic_arn,
        region="us-east-1",
        endpoint_url=url,
        verification=FAST_PROOF,
        scope=Scope(manage_tagged=True),  # the world tags its users keyturn:managed
        concurrency=4,  # each racer is itself the concurrent engine (rotation/pool.py)
        users_in_flight=8,
    )
    rotator = build_rotator(
        settings, session=session, run_id=f"{os.getpid()}-{threading.get_ident()}"
    )
    (barrier or _start).wait(timeout=60)
    try:
        result = rotator.rotate(user) if command == "rotate" else rotator.run()
    except RefusedError as exc:
        return outcome("refused", exc.reason)
    except KeyturnError as exc:
        return f"failed: {exc}"[:120]
    users = result.users if isinstance(result, RunResult) else (result,)
    # no user at all: the credential report showed the user's key already replaced (idle)
    return ",".join(outcome(u.status.value, u.message) for u in users) or "idle"


def outcome(status: str, message: str) -> str:
    """A run's outcome in a few words (no timestamps), for counting."""
    if status == "refused":
        for cause, words in REFUSALS.items():
            if cause in message:
                return f"refused ({words})"
    if status == "unchanged" and "in progress" in message:
        return "waited (another run's creation in flight)"
    return f"{status}: {message}"[:120] if status not in {"changed", "unchanged"} else status


REFUSALS = {
    "IAM already holds two keys": "IAM's two-key limit",
    "another run rotated at the same time": "lost the delivery token race",
    "two active keys": "two active keys, none delivered by keyturn",
}
