"""The deployed path: keyturn's stack created in the emulator, its function run as Lambda runs it.

:func:`deploy` translates infra/template.yaml (every parameter at its default) and creates it
as a stack in moto, then reads back what Lambda would be given: the function's environment,
memory, timeout and role. :func:`invoke` serves one event in a fresh process
(benchmarks/lambda_child.py) with that environment, the role's credentials and the emulator's
endpoint: a cold start, the scheduled event, a context whose remaining time starts at the
timeout. Whatever the template sets (a concurrency setting, say) the benchmark runs with.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyturn.emulator import EmbeddedAws

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
SCHEDULED_EVENT = ROOT / "tests" / "events" / "scheduled.json"
STACK = "keyturn"
FUNCTION = "RotationFunction"
CHILD_TIMEOUT_S = 1_800


@dataclass(frozen=True)
class Function:
    """What the deployed stack gives keyturn's function."""

    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    architecture: str
    role_arn: str
    name: str

    @property
    def topic_name(self) -> str:
        return self.environment["KEYTURN_TOPIC_ARN"].rsplit(":", 1)[1]


@dataclass(frozen=True)
class Invocation:
    """One invocation's figures, as the child process measured them."""

    init_s: float
    run_s: float
    calls: Counter[str]
    probes: Counter[str]
    peak_mib: float
    statuses: Counter[str]
    created: int
    remaining_s: float
    response_bytes: int

    def total(self, service: str | None = None) -> int:
        return sum(
            n for op, n in self.calls.items() if service is None or op.startswith(service + ".")
        )

    @property
    def billed_s(self) -> float:
        """Lambda bills the INIT phase of a cold start too (since 2025-08-01)."""
        return self.init_s + self.run_s


def _translate_module() -> Any:
    path = ROOT / "infra" / "translate.py"
    spec = importlib.util.spec_from_file_location("keyturn_infra_translate", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deploy(aws: EmbeddedAws) -> Function:
    """Create keyturn's stack with its defaults; the function's configuration as deployed."""
    translate = _translate_module()
    sam = translate.load_template(TEMPLATE)
    template = translate.translate(sam, "s3://keyturn-artifacts/keyturn-lambda.zip", aws.region)
    aws.client("s3").create_bucket(Bucket="keyturn-artifacts")
    aws.client("s3").put_object(Bucket="keyturn-artifacts", Key="keyturn-lambda.zip", Body=b"PK")
    cloudformation = aws.client("cloudformation")
    quiet = logging.getLogger("moto")  # its CloudFormation logs there
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings():  # moto warns of each resource type it does not create
        warnings.simplefilter("ignore")
        cloudformation.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        (stack,) = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        # moto also lists each resource whose Condition was false, as a row with no logical id.
        (name,) = [
            r["PhysicalResourceId"]
            for r in cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
            if r.get("LogicalResourceId") == FUNCTION
        ]
    quiet.setLevel(level)
    config = aws.client("lambda").get_function_configuration(FunctionName=name)
    # moto keeps no architecture (it says x86_64) and a Number parameter as an int.
    (architecture,) = sam["Resources"][FUNCTION]["Properties"]["Architectures"]
    return Function(
        environment={k: str(v) for k, v in config["Environment"]["Variables"].items()},
        memory_mb=int(config["MemorySize"]),
        timeout_s=int(config["Timeout"]),
        architecture=str(architecture),
        role_arn=str(config["Role"]),
        name=name,
    )


def prepare(aws: EmbeddedAws, function: Function) -> None:
    """After a reset: the stack's topic and role again, under the same names (same ARNs)."""
    aws.client("sns").create_topic(Name=function.topic_name)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    aws.client("iam").create_role(
        RoleName=function.role_arn.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust)
    )


def _environment(aws: EmbeddedAws, function: Function, extra: dict[str, str]) -> dict[str, str]:
    creds = aws.client("sts").assume_role(RoleArn=function.role_arn, RoleSessionName=function.name)
    creds = creds["Credentials"]
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **function.environment,
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_REGION": aws.region,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def _child(aws: EmbeddedAws, function: Function, args: list[str], extra: dict[str, str]) -> Any:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "figures.json"
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.lambda_child", *args, str(out)],
            env=_environment(aws, function, extra),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the function's logs and metrics (CloudWatch's part)
            stderr=subprocess.PIPE,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"the function's process failed:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def invoke(
    aws: EmbeddedAws,
    function: Function,
    *,
    event: Path = SCHEDULED_EVENT,
    extra: dict[str, str] | None = None,
) -> Invocation:
    """Serve ``event`` once, cold, in a fresh process with the function's environment."""
    figures = _child(aws, function, ["handler", str(event), str(function.timeout_s)], extra or {})
    return Invocation(
        init_s=figures["init_s"],
        run_s=figures["run_s"],
        calls=Counter(figures["calls"]),
        probes=Counter(figures["probes"]),
        peak_mib=figures["peak_mib"],
        statuses=Counter(figures["statuses"]),
        created=figures["created"],
        remaining_s=figures["remaining_s"],
        response_bytes=figures["response_bytes"],
    )


def recipe(aws: EmbeddedAws, function: Function, count: int, prefix: str, topic: str) -> Invocation:
    """The original recipe once per user, in a process of its own like keyturn's."""
    figures = _child(aws, function, ["recipe", str(count), prefix, topic], {})
    return Invocation(
        init_s=figures["init_s"],
        run_s=figures["run_s"],
        calls=Counter(figures["calls"]),
        probes=Counter(),
        peak_mib=figures["peak_mib"],
        statuses=Counter({"changed": count}),
        created=count,
        remaining_s=0.0,
        response_bytes=0,
    )
