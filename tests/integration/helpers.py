"""Building blocks for integration tests: a Lambda context, worlds in the emulator, snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyturn.emulator import EmbeddedAws

EVENTS = Path(__file__).parent.parent / "events"


@dataclass
class LambdaContext:
    function_name: str = "keyturn"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:keyturn"
    aws_request_id: str = "req-0001"


def event(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text())


def make_user(
    aws: EmbeddedAws,
    name: str,
    *,
    key_ages: tuple[float, ...] = (),
    tags: dict[str, str] | None = None,
    path: str = "/",
) -> list[str]:
    """Create a user with keys of the given ages (days); return the key ids."""
    iam = aws.client("iam")
    iam.create_user(
        UserName=name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    )
    ids = []
    for age in key_ages:
        key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        aws.backdate_key(name, key_id, age)
        ids.append(key_id)
    return ids


def make_topic(aws: EmbeddedAws) -> str:
    sns = aws.client("sns")
    arn = str(sns.create_topic(Name="keyturn-notifications")["TopicArn"])
    sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="ops@example.com")
    return arn


def keys_of(aws: EmbeddedAws, user: str) -> dict[str, str]:
    listed = aws.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def current_secret(aws: EmbeddedAws, user: str) -> dict[str, Any]:
    raw = aws.client("secretsmanager").get_secret_value(
        SecretId=f"keyturn/{user}", VersionStage="AWSCURRENT"
    )
    doc: dict[str, Any] = json.loads(raw["SecretString"])
    return doc


def world_state(aws: EmbeddedAws) -> dict[str, Any]:
    """Everything keyturn could change: users, their keys and statuses, secrets and versions."""
    iam, sm = aws.client("iam"), aws.client("secretsmanager")
    users = {u["UserName"]: keys_of(aws, u["UserName"]) for u in iam.list_users()["Users"]}
    secrets = {}
    for secret in sm.list_secrets()["SecretList"]:
        versions = sm.list_secret_version_ids(SecretId=secret["ARN"])["Versions"]
        secrets[secret["Name"]] = sorted(
            (v["VersionId"], tuple(sorted(v.get("VersionStages", [])))) for v in versions
        )
        secrets[secret["Name"] + "#tags"] = sorted(
            (t["Key"], t["Value"])
            for t in sm.describe_secret(SecretId=secret["ARN"]).get("Tags", [])
        )
    return {"users": users, "secrets": secrets}
