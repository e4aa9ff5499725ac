"""keyturn's fleet as an organization in moto, and the policy documents it created.

The hub stack (infra/template.yaml, FleetMode=hub) runs in the management account, the member
roles (infra/member-role.yaml) in one member account. moto's CloudFormation resolves the
templates' intrinsics as CloudFormation does; the documents are then read back through the
ordinary APIs (GetRolePolicy, GetRole, GetKeyPolicy, GetQueueAttributes, Lambda GetPolicy), so
the tests judge what the stacks really hold, not the YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from keyturn.emulator import EmbeddedAws
from tests.infra.iam_audit import policy_document
from tests.infra.stack import (
    ACCOUNT,
    REGION,
    Deployed,
    deploy_fleet_hub,
    fleet_accounts,
    role_policy,
)
from tests.security.policy_eval import Document

EXTERNAL_ID = "keyturn-security-test-external-id"
WRITER = "keyturn-member"
READER = "keyturn-member-reader"
OUTSIDE = "999999999999"
"""An account outside the organization."""


@dataclass(frozen=True)
class FleetDocuments:
    """The deployed fleet's ARNs and policy documents."""

    org_id: str
    hub: str
    member: str
    function_arn: str
    key_arn: str
    queue_arn: str
    dispatcher_arn: str
    worker_arn: str
    rotation_role: Document
    dispatcher: Document
    worker: Document
    writer: Document
    reader: Document
    writer_trust: Document
    reader_trust: Document
    key_policy: Document
    queue_policy: Document
    invoke_policy: Document

    def member_role_arn(self, name: str, account: str | None = None) -> str:
        return f"arn:aws:iam::{account or self.member}:role/{name}"

    def secret_arn(self, name: str, account: str | None = None) -> str:
        return f"arn:aws:secretsmanager:{REGION}:{account or self.member}:secret:{name}-AbCdEf"

    def user_arn(self, path_and_name: str) -> str:
        return f"arn:aws:iam::{self.member}:user/{path_and_name}"


def deploy_fleet(aws: EmbeddedAws) -> FleetDocuments:
    """An organization, the member roles in its member account, the hub in its management one."""
    accounts = fleet_accounts(aws, EXTERNAL_ID)
    assert accounts.org_id
    assert accounts.member_id
    org_id, member_id = accounts.org_id, accounts.member_id
    hub = deploy_fleet_hub(accounts, {"SecretsKmsKey": "create"})
    iam = accounts.member_client("iam")
    return FleetDocuments(
        org_id=org_id,
        hub=ACCOUNT,
        member=member_id,
        function_arn=hub.outputs["FunctionArn"],
        key_arn=_key_arn(hub),
        queue_arn=_queue_arn(hub),
        dispatcher_arn=hub.outputs["FleetDispatcherRoleArn"],
        worker_arn=hub.outputs["FleetWorkerRoleArn"],
        rotation_role=hub.role_policy(),
        dispatcher=role_policy(aws, hub.physical("FleetDispatcherRole")),
        worker=role_policy(aws, hub.physical("FleetWorkerRole")),
        writer=_inline_policy(iam, WRITER),
        reader=_inline_policy(iam, READER),
        writer_trust=_trust(iam, WRITER),
        reader_trust=_trust(iam, READER),
        key_policy=_key_policy(hub),
        queue_policy=_queue_policy(hub),
        invoke_policy=json.loads(
            hub.client("lambda").get_policy(FunctionName=hub.outputs["FunctionArn"])["Policy"]
        ),
    )


def _inline_policy(iam: Any, role_name: str) -> Document:
    (name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    raw = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
    return policy_document(raw)


def _trust(iam: Any, role_name: str) -> Document:
    return policy_document(iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"])


def _key_arn(hub: Deployed) -> str:
    key_id = hub.physical("NotificationKey")
    return str(hub.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def _key_policy(hub: Deployed) -> Document:
    key_id = hub.physical("NotificationKey")
    raw = hub.client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    return policy_document(raw)


def _queue_attribute(hub: Deployed, name: str) -> str:
    attributes = hub.client("sqs").get_queue_attributes(
        QueueUrl=hub.outputs["FleetWorkQueueUrl"], AttributeNames=[name]
    )["Attributes"]
    return str(attributes[name])


def _queue_arn(hub: Deployed) -> str:
    return _queue_attribute(hub, "QueueArn")


def _queue_policy(hub: Deployed) -> Document:
    return policy_document(_queue_attribute(hub, "Policy"))
