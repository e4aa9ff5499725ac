"""One cold Lambda invocation in its own process, as Lambda runs it (benchmarks/deployed.py).

    python -m benchmarks.lambda_child handler EVENT.json TIMEOUT_S OUT.json
    python -m benchmarks.lambda_child recipe COUNT PREFIX TOPIC_ARN OUT.json

The environment is the function's (the deployed stack's variables, the role's credentials and
the emulator's endpoint). ``handler`` imports ``keyturn.handler`` (the INIT phase) and serves
one event with a context whose remaining time starts at the function's timeout; ``recipe``
calls the original recipe once per user. Either writes its figures as JSON to OUT.json: init
and run seconds, AWS calls per operation (the key proofs' sessions apart), the users' result
statuses and the process's peak RSS. Nothing here reads or writes a secret.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
ACCOUNT = "123456789012"  # the emulator's

import boto3  # noqa: E402 - timed as part of the INIT phase

_lock = threading.Lock()
calls: Counter[str] = Counter()
probes: Counter[str] = Counter()
"""Calls of sessions made with another key than the function's: the new keys' STS proofs."""


class CountingSession(boto3.Session):
    """A boto3 session that counts its calls (the engine may call from worker threads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = kwargs.get("aws_access_key_id")
        into = probes if key and key != os.environ.get("AWS_ACCESS_KEY_ID") else calls

        def count(model: Any, **_: Any) -> None:
            with _lock:
                into[f"{model.service_model.service_name}.{model.name}"] += 1

        self.events.register("before-call", count)


boto3.Session = CountingSession  # type: ignore[misc]


class Context:
    """The part of Lambda's context keyturn reads, remaining time counted from the call."""

    def __init__(self, timeout_s: float, function_name: str) -> None:
        self.function_name = function_name
        self.aws_request_id = "benchmark"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler(event_path: str, timeout_s: str) -> dict[str, Any]:
    from keyturn.handler import lambda_handler  # noqa: PLC0415 - the timed INIT phase

    init = time.perf_counter() - STARTED
    context = Context(float(timeout_s), os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    event = json.loads(Path(event_path).read_text())
    calls.clear()  # the INIT phase makes none; a run's calls only
    started = time.perf_counter()
    response = lambda_handler(event, context)
    seconds = time.perf_counter() - started
    body = response.get("body", {})
    users = body.get("users", [])
    deferred = body.get("deferred", 0)  # the run's own count, when it keeps one
    created = sum(d["action"] == "create" for u in users for d in u["done"])
    return {
        "init_s": init,
        "run_s": seconds,
        "remaining_s": context.get_remaining_time_in_millis() / 1000,
        "status_code": response["statusCode"],
        "statuses": Counter(u["status"] for u in users),
        "deferred": deferred if isinstance(deferred, int) else len(deferred),
        "created": created,
        "response_bytes": len(json.dumps(response)),
    }


def recipe(count: str, prefix: str, topic_arn: str) -> dict[str, Any]:
    from benchmarks import original_recipe  # noqa: PLC0415 - timed like the handler

    init = time.perf_counter() - STARTED
    session = boto3.Session()
    iam = session.client("iam")
    sns = session.client("sns")
    started = time.perf_counter()
    for n in range(int(count)):
        answer = original_recipe.lambda_handler(
            {"action": "create", "username": f"{prefix}{n:05d}"}, iam, sns, topic_arn
        )
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the recipe answered {answer['statusCode']}")
    seconds = time.perf_counter() - started
    return {"init_s": init, "run_s": seconds, "created": int(count), "statuses": {}}


def peak_mib() -> float:
    """This process's peak resident memory since it started its program.

    Linux's ``ru_maxrss`` keeps the high-water mark of the process before ``exec`` (here the
    benchmark, moto and all its users); ``VmHWM`` belongs to the new program's memory only.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; bytes on macOS


def main(argv: list[str]) -> int:
    mode, *args, out = argv
    figures = handler(*args) if mode == "handler" else recipe(*args)
    figures["calls"] = calls
    figures["probes"] = probes
    figures["peak_mib"] = peak_mib()
    Path(out).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
