"""The deployed path: keyturn's stack created in the emulator, its function run as Lambda runs it.

:func:`deploy` translates infra/template.yaml (every parameter at its default) and creates it
as a stack in moto, then reads back what Lambda would be given: the function's environment,
memory, timeout and role. :func:`invoke` serves one event in a fresh process
(benchmarks/lambda_child.py) with that environment, the role's credentials and the emulator's
endpoint: a cold start, the scheduled event, a context whose remaining time starts at the
timeout. Whatever the template sets (a concurrency setting, say) the benchmark runs with.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from keyturn.emulator import ACCOUNT_ID, EmbeddedAws

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
    run_deferred: int = 0
    """The deferred users the run's answer counts (besides those among its users)."""

    @property
    def deferred(self) -> int:
        return max(self.statuses.get("deferred", 0), self.run_deferred)

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


def in_account(function: Function, account_id: str) -> Function:
    """The same function deployed in another account of the emulator.

    moto keeps each account's resources apart and lets a role of any account be assumed, so
    each benchmark gets an account of its own: none needs a reset that would wipe another's
    state, and one can run while another waits (see :class:`Running`).
    """
    return dataclasses.replace(
        function,
        environment={k: v.replace(ACCOUNT_ID, account_id) for k, v in function.environment.items()},
        role_arn=function.role_arn.replace(ACCOUNT_ID, account_id),
    )


def _credentials(aws: EmbeddedAws, function: Function) -> dict[str, str]:
    """The function's role's credentials (in the role's account: moto routes by the key)."""
    answer = aws.client("sts").assume_role(RoleArn=function.role_arn, RoleSessionName=function.name)
    creds = answer["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def prepare(aws: EmbeddedAws, function: Function) -> None:
    """The stack's topic in the function's account, under the deployed name (same ARN)."""
    creds = _credentials(aws, function)
    sns = boto3.client(
        "sns",
        endpoint_url=aws.url,
        region_name=aws.region,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
    )
    arn = sns.create_topic(Name=function.topic_name)["TopicArn"]
    assert arn == function.environment["KEYTURN_TOPIC_ARN"], arn


def _environment(aws: EmbeddedAws, function: Function, extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **function.environment,
        **_credentials(aws, function),
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_REGION": aws.region,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


class Running:
    """A child process serving one invocation; :meth:`wait` gives its figures."""

    def __init__(
        self, aws: EmbeddedAws, function: Function, args: list[str], extra: dict[str, str]
    ) -> None:
        self._scratch = tempfile.TemporaryDirectory()
        self._out = Path(self._scratch.name) / "figures.json"
        self._errors = Path(self._scratch.name) / "stderr.txt"
        with self._errors.open("w") as errors:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.lambda_child", *args, str(self._out)],
                env=_environment(aws, function, extra),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the function's logs and metrics (CloudWatch's part)
                stderr=errors,
            )

    def cpu_seconds(self) -> float:
        """CPU time the child has used so far (0 once it has ended)."""
        stat = Path(f"/proc/{self._process.pid}/stat")
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_while_busy(self, window_s: float = 5.0, idle_share: float = 0.1) -> bool:
        """Block while the child works (over ``idle_share`` of a core in a ``window_s``
        window); True when it still runs, only waiting (key proofs being waited out)."""
        before = self.cpu_seconds()
        while self._process.poll() is None:
            time.sleep(window_s)
            now = self.cpu_seconds()
            if self._process.poll() is None and now - before < idle_share * window_s:
                return True
            before = now
        return False

    def figures(self) -> Any:
        try:
            code = self._process.wait(timeout=CHILD_TIMEOUT_S)
            if code:
                tail = self._errors.read_text()[-3000:]
                raise RuntimeError(f"the function's process failed:\n{tail}")
            return json.loads(self._out.read_text())
        finally:
            self._scratch.cleanup()

    def wait(self) -> Invocation:
        figures = self.figures()
        return Invocation(
            init_s=figures["init_s"],
            run_s=figures["run_s"],
            calls=Counter(figures["calls"]),
            probes=Counter(figures["probes"]),
            peak_mib=figures["peak_mib"],
            statuses=Counter(figures.get("statuses", {})),
            created=figures["created"],
            remaining_s=figures.get("remaining_s", 0.0),
            response_bytes=figures.get("response_bytes", 0),
            run_deferred=figures.get("deferred", 0),
        )


def start(
    aws: EmbeddedAws,
    function: Function,
    *,
    event: Path = SCHEDULED_EVENT,
    extra: dict[str, str] | None = None,
) -> Running:
    """Start serving ``event`` once, cold, in a fresh process with the function's environment."""
    return Running(aws, function, ["handler", str(event), str(function.timeout_s)], extra or {})


def recipe(
    aws: EmbeddedAws,
    function: Function,
    count: int,
    prefix: str,
    *,
    extra: dict[str, str] | None = None,
) -> Invocation:
    """The original recipe once per user, in a process of its own like keyturn's."""
    topic = function.environment["KEYTURN_TOPIC_ARN"]
    return Running(aws, function, ["recipe", str(count), prefix, topic], extra or {}).wait()
