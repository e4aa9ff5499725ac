"""Helpers of the deployment tests: translate keyturn's SAM template, create stacks in moto.

A fleet (hub stack, member roles, an organization) is set up in one way for every test that
needs one: :func:`fleet_accounts`, then :func:`deploy_fleet_hub`.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import io
import json
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from keyturn.emulator import EmbeddedAws
from tests.integration.fleet_world import member_session

from .iam_audit import policy_document

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
INTEGRATION_USER = ROOT / "examples" / "integration-user.yaml"
MEMBER_ROLE = ROOT / "infra" / "member-role.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def _load_translate_module() -> Any:
    path = ROOT / "infra" / "translate.py"
    spec = importlib.util.spec_from_file_location("keyturn_infra_translate", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


translate_module = _load_translate_module()


def make(target: str) -> None:
    """Run a Makefile target that prepares something the tests use (idempotent, quiet)."""
    subprocess.run(["make", "-s", target], cwd=ROOT, check=True, stdin=subprocess.DEVNULL)


def source_zip() -> bytes:
    """The function's code for moto's Lambda (never invoked there: moto would need docker)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((ROOT / "src").rglob("*.py")):
            archive.write(path, path.relative_to(ROOT / "src").as_posix())
    return buffer.getvalue()


def translate(parameters: dict[str, str], code_uri: str) -> dict[str, Any]:
    """The template as SAM translates it for ``parameters`` (a fresh copy each call: the
    translation of each set of parameters is made once per session)."""
    return copy.deepcopy(_translated(tuple(sorted(parameters.items())), code_uri))


@functools.cache
def _translated(parameters: tuple[tuple[str, str], ...], code_uri: str) -> dict[str, Any]:
    template = translate_module.load_template(TEMPLATE)
    return translate_module.translate(template, code_uri, REGION, dict(parameters))  # type: ignore[no-any-return]


def deploy(
    aws: EmbeddedAws, name: str, template: dict[str, Any], parameters: dict[str, str]
) -> dict[str, str]:
    """Create `template` as stack `name` in moto; return its outputs."""
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_resources(aws: EmbeddedAws, name: str) -> dict[str, dict[str, str]]:
    """Logical id -> {type, physical id} of the stack's resources."""
    rows = aws.client("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    # moto also lists each resource whose Condition was false, as a row with no logical id.
    return {
        r["LogicalResourceId"]: {"type": r["ResourceType"], "id": r.get("PhysicalResourceId", "")}
        for r in rows
        if "LogicalResourceId" in r
    }


ARTIFACT_BUCKET = "keyturn-artifacts"
ARTIFACT_KEY = "keyturn-lambda.zip"


def deploy_integration_user(aws: EmbeddedAws, user_name: str) -> dict[str, str]:
    """The example integration user and its queue; returns the stack outputs and QueueArn."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"{user_name}-work")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    parameters = {"UserName": user_name, "QueueArn": arn["QueueArn"]}
    template = translate_module.load_template(INTEGRATION_USER)
    return {**deploy(aws, f"{user_name}-user", template, parameters), "QueueArn": arn["QueueArn"]}


@dataclass
class Deployed:
    """keyturn's stack in moto, read back through the ordinary APIs."""

    aws: EmbeddedAws
    outputs: dict[str, str]
    resources: dict[str, dict[str, str]]

    def physical(self, logical_id: str) -> str:
        return self.resources[logical_id]["id"]

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def role_policy(self) -> dict[str, Any]:
        return role_policy(self.aws, self.physical("RotationRole"))

    def function_environment(self) -> dict[str, str]:
        config = self.client("lambda").get_function_configuration(
            FunctionName=self.outputs["FunctionArn"]
        )
        # Lambda keeps strings; moto keeps a Number parameter's value as an int.
        return {k: str(v) for k, v in config["Environment"]["Variables"].items()}


def deploy_keyturn(aws: EmbeddedAws, name: str, parameters: dict[str, str]) -> Deployed:
    """keyturn's stack as `sam deploy` would create it: artifact uploaded, template translated."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=source_zip())
    template = translate(parameters, f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}")
    outputs = deploy(aws, name, template, parameters)
    return Deployed(aws, outputs, stack_resources(aws, name))


def deploy_member_role(aws: EmbeddedAws, parameters: dict[str, str]) -> dict[str, Any]:
    """The fleet's member roles stack (infra/member-role.yaml); returns the worker role's policy."""
    template = translate_module.load_template(MEMBER_ROLE)
    values = {"HubAccountId": ACCOUNT, "ExternalId": "keyturn-scan-external-id", **parameters}
    deploy(aws, "keyturn-member", template, values)
    return role_policy(aws, values.get("RoleName", "keyturn-member"))


def role_policy(aws: EmbeddedAws, role_name: str) -> dict[str, Any]:
    """The one inline policy of a role."""
    iam = aws.client("iam")
    (name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    return policy_document(
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
    )


def user_policy(aws: EmbeddedAws, user_name: str) -> dict[str, Any]:
    """The one inline policy of a user."""
    iam = aws.client("iam")
    (name,) = iam.list_user_policies(UserName=user_name)["PolicyNames"]
    return policy_document(
        iam.get_user_policy(UserName=user_name, PolicyName=name)["PolicyDocument"]
    )


@dataclass(frozen=True)
class FleetAccounts:
    """The accounts of a fleet deployment: the hub's (moto's default) and, with an organization,
    its one member account."""

    aws: EmbeddedAws
    external_id: str
    org_id: str | None = None
    member_id: str | None = None
    member: boto3.Session | None = None

    @property
    def accounts(self) -> list[str]:
        """The accounts the fleet covers, the hub's first."""
        return [ACCOUNT] if self.member_id is None else [ACCOUNT, self.member_id]

    def member_client(self, service: str) -> Any:
        assert self.member is not None, "a fleet without an organization has no member account"
        return self.member.client(service, endpoint_url=self.aws.url)  # type: ignore[call-overload]


def fleet_accounts(
    aws: EmbeddedAws, external_id: str, *, organization: bool = True, hub_member_roles: bool = False
) -> FleetAccounts:
    """The fleet's accounts before its hub: an organization with one member account holding
    the member roles (infra/member-role.yaml), and those roles in the hub account too if
    ``hub_member_roles``. The one way the deployment tests (tests/infra, tests/security) set a
    fleet up; users go in next, then :func:`deploy_fleet_hub`."""
    accounts = FleetAccounts(aws, external_id)
    if organization:
        org = aws.client("organizations")
        org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        status = org.create_account(AccountName="member", Email="member@example.com")
        member_id = status["CreateAccountStatus"]["AccountId"]
        member = member_session(aws, member_id)
        accounts = FleetAccounts(aws, external_id, org_id, member_id, member)
        _member_roles(accounts, accounts.member_client("cloudformation"))
    if hub_member_roles:
        _member_roles(accounts, aws.client("cloudformation"))
    return accounts


def _member_roles(accounts: FleetAccounts, cloudformation: Any) -> None:
    """infra/member-role.yaml as stack keyturn-member, through ``cloudformation``'s account."""
    cloudformation.create_stack(
        StackName="keyturn-member",
        TemplateBody=json.dumps(_member_role_template()),
        Parameters=[
            {"ParameterKey": "HubAccountId", "ParameterValue": ACCOUNT},
            {"ParameterKey": "ExternalId", "ParameterValue": accounts.external_id},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="keyturn-member")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


@functools.cache
def _member_role_template() -> dict[str, Any]:
    return translate_module.load_template(MEMBER_ROLE)  # type: ignore[no-any-return]


def deploy_fleet_hub(accounts: FleetAccounts, parameters: dict[str, str]) -> Deployed:
    """keyturn's stack in hub mode (as :func:`deploy_keyturn`) over ``accounts``, with the
    organization's id when there is one; ``parameters`` add to or override the fleet's."""
    values = {"FleetMode": "hub", "FleetExternalId": accounts.external_id}
    if accounts.org_id is not None:
        values["FleetOrganizationId"] = accounts.org_id
    return deploy_keyturn(accounts.aws, "keyturn", {**values, **parameters})
