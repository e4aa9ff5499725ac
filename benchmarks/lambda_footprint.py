"""Memory and time of the Lambda handler, to size the function (infra/template.yaml).

A moto server runs in this process with N users on keyturn's path, each holding one key
older than the rotation age. A child process imports ``keyturn.handler`` and serves the
scheduled run as Lambda would (every key is rotated: the heaviest daily case), then a second
run with nothing due. The child's peak RSS, each run's duration and its number of AWS calls
are printed as a table, with the duration the same calls would take at a given per-call
latency of the real services (moto answers in about a millisecond).

    .venv/bin/python benchmarks/lambda_footprint.py [--users 50] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

from keyturn.emulator import EmbeddedAws

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from dataclasses import dataclass

    import boto3

    calls = []

    class CountingSession(boto3.Session):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.events.register("before-call.*.*", lambda **kw: calls.append(1))

    boto3.Session = CountingSession
    started = time.perf_counter()
    from keyturn.handler import lambda_handler
    imported = time.perf_counter() - started

    @dataclass
    class Context:
        function_name: str = "keyturn"
        invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:keyturn"
        memory_limit_in_mb: int = 256
        aws_request_id: str = "benchmark"

    runs = []
    for label in ("rotate all", "nothing due"):
        calls.clear()
        started = time.perf_counter()
        response = lambda_handler({"action": "run"}, Context())
        seconds = time.perf_counter() - started
        created = sum(
            d["action"] == "create" for u in response["body"]["users"] for d in u["done"]
        )
        runs.append((label, seconds, len(calls), created, response["statusCode"]))
    # VmHWM, not ru_maxrss: Linux carries the parent's (moto's) high-water mark over exec.
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
    peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(
        resource.RUSAGE_SELF
    ).ru_maxrss / 1024
    sys.stderr.write(json.dumps({"import_s": imported, "runs": runs, "peak_mib": peak}) + "\\n")
    """
)


def _seed(aws: EmbeddedAws, users: int) -> None:
    iam = aws.client("iam")
    for index in range(users):
        name = f"bench-{index:03d}"
        iam.create_user(UserName=name, Path="/keyturn/")
        key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        aws.backdate_key(name, key, days=100)
    aws.client("sns").create_topic(Name="keyturn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    with EmbeddedAws() as aws:
        _seed(aws, args.users)
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_REGION": aws.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "KEYTURN_USER_PATH": "/keyturn/",
            "KEYTURN_TOPIC_ARN": f"arn:aws:sns:{aws.region}:123456789012:keyturn",
            "POWERTOOLS_SERVICE_NAME": "keyturn",
            "POWERTOOLS_METRICS_NAMESPACE": "keyturn",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    figures = json.loads(done.stderr.strip().splitlines()[-1])
    print(f"keyturn handler, {args.users} users on the path, every key 100 days old")
    at = f"at {args.latency_ms:.0f} ms/call"
    print(f"{'run':<14}{'status':>7}{'new keys':>10}{'seconds':>9}{'AWS calls':>11}{at:>17}")
    for label, seconds, calls, created, status in figures["runs"]:
        at_latency = f"{calls * args.latency_ms / 1000:.1f} s"
        print(f"{label:<14}{status:>7}{created:>10}{seconds:>9.2f}{calls:>11}{at_latency:>17}")
    print(f"import of keyturn.handler: {figures['import_s']:.2f} s")
    print(f"peak RSS of the handler process: {figures['peak_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
