"""``keyturn demo``: the original recipe's world on an embedded emulator, rotated by keyturn.

The story: an SAP adapter's integration user (least-privilege SQS policy, no console login)
whose key is past its rotation age, an exempt break-glass user, a CI user with two active keys
and a fresh app; an SNS topic with an Email-JSON subscription. Then scan, run, read the new key
back with the AWS SDK, show the notification as sent, and let simulated days pass.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.panel import Panel

from keyturn.cli.tables import run_table, scan_table
from keyturn.core.models import mask_key_id
from keyturn.core.verification import VerificationPolicy
from keyturn.emulator import EmbeddedAws
from keyturn.rotation.ports import OffsetClock
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.wiring import build_rotator

INTEGRATION_USER = "sap-adapter"
EMULATOR_PROOF = VerificationPolicy(
    successes=3, min_window=timedelta(seconds=1), interval=timedelta(milliseconds=500)
)
"""The emulator knows a new key at once; in AWS the default proof spans 15 s."""
SQS_ACTIONS = [
    "sqs:DeleteMessage",
    "sqs:ListQueues",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessageBatch",
    "sqs:SendMessageBatch",
    "sqs:PurgeQueue",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:CreateQueue",
    "sqs:ChangeMessageVisibilityBatch",
]


def run_demo(console: Console) -> None:
    """Tell the story; every AWS call goes over HTTP to the emulator."""
    with EmbeddedAws() as aws:
        console.rule("keyturn demo: an embedded AWS emulator at " + aws.url)
        topic_arn = _build_world(aws, console)
        settings = Settings(
            # The path, and the keyturn:managed tag (as with ManageTaggedUsers=true).
            scope=Scope(user_path="/integrations/", manage_tagged=True),
            verification=EMULATOR_PROOF,
            topic_arn=topic_arn,
            region=aws.region,
            endpoint_url=aws.url,
        )
        today = _rotator(aws, settings, days=0)
        _chapter(console, "1. scan: every user's keys and what keyturn will do")
        console.print(scan_table(today.plan_all()))
        _chapter(console, "2. run: the daily scheduled run")
        console.print(run_table(today.run(), "keyturn run (today)"))
        _show_delivery(aws, console)
        _show_notifications(aws, console, topic_arn)
        _days_pass(aws, console, settings)
        console.rule("done: no AWS account was touched")


def _build_world(aws: EmbeddedAws, console: Console) -> str:
    _chapter(console, "0. the world: the original recipe's integration user and friends")
    iam, sqs, sns = aws.client("iam"), aws.client("sqs"), aws.client("sns")
    queue_url = sqs.create_queue(QueueName="sap-inbound")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    _user(aws, INTEGRATION_USER, "/integrations/", {}, key_ages=[85])
    iam.put_user_policy(
        UserName=INTEGRATION_USER,
        PolicyName="sap-adapter-sqs",
        PolicyDocument=json.dumps(_sqs_policy(queue_arn)),
    )
    _user(aws, "break-glass", "/integrations/", {"keyturn:exempt": "true"}, key_ages=[120])
    _user(aws, "ci-runner", "/", {"keyturn:managed": "true"}, key_ages=[95, 30])
    _user(aws, "fresh-app", "/integrations/", {}, key_ages=[10])
    topic_arn = str(sns.create_topic(Name="keyturn-notifications")["TopicArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="email-json", Endpoint="ops@example.com")
    console.print(
        f"  [bold]{INTEGRATION_USER}[/]: SQS-only inline policy on {queue_arn}, no console "
        "login, one key 85 days old\n"
        "  [bold]break-glass[/]: exempt (tag keyturn:exempt=true), key 120 days old\n"
        "  [bold]ci-runner[/]: two active keys (95 and 30 days)\n"
        "  [bold]fresh-app[/]: one key 10 days old\n"
        f"  SNS topic {topic_arn} -> Email-JSON subscription ops@example.com"
    )
    return topic_arn


def _user(
    aws: EmbeddedAws, name: str, path: str, tags: dict[str, str], key_ages: list[int]
) -> None:
    iam = aws.client("iam")
    iam.create_user(
        UserName=name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )
    for age in key_ages:
        key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        aws.backdate_key(name, key_id, age)


def _sqs_policy(queue_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [a for a in SQS_ACTIONS if a != "sqs:ListQueues"],
                "Resource": queue_arn,
            },
            {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"},
        ],
    }


def _rotator(aws: EmbeddedAws, settings: Settings, days: int) -> Rotator:
    clock = OffsetClock(timedelta(days=days))
    return build_rotator(settings, session=aws.session(), clock=clock)


def _show_delivery(aws: EmbeddedAws, console: Console) -> None:
    _chapter(console, "3. the new key, read back from Secrets Manager with the AWS SDK")
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=f"keyturn/{INTEGRATION_USER}", VersionStage="AWSCURRENT"
    )
    doc = json.loads(secret["SecretString"])
    console.print(
        f"  secret keyturn/{INTEGRATION_USER} (AWSCURRENT, version {secret['VersionId'][:8]}...)\n"
        f"  UserName={doc['UserName']}  AccessKeyId={mask_key_id(doc['AccessKeyId'])}  "
        f"SecretAccessKey=<{len(doc['SecretAccessKey'])} characters, never printed>\n"
        f"  previous key {mask_key_id(doc['Keyturn']['PreviousAccessKeyId'])} stays active "
        f"{doc['Keyturn']['GraceDays']} more days"
    )


def _show_notifications(aws: EmbeddedAws, console: Console, topic_arn: str) -> None:
    _chapter(console, "4. what ops@example.com received (read back from the emulator's SNS)")
    for sent in aws.sent_notifications(topic_arn):
        body = json.loads(sent.message)
        leaked = "SecretAccessKey" in body
        console.print(Panel(json.dumps(body, indent=2), title=sent.subject, expand=False))
        if leaked:
            console.print("[red]the notification carried a secret[/]")


def _days_pass(aws: EmbeddedAws, console: Console, settings: Settings) -> None:
    for days, what in ((8, "the grace period is over"), (15, "the restore window is over")):
        later = _rotator(aws, settings, days=days)
        _chapter(console, f"5. {days} days later ({what}): plan, then run")
        console.print(run_table(later.plan_all(), f"keyturn plan (in {days} days)"))
        console.print(run_table(later.run(), f"keyturn run (in {days} days)"))
    _chapter(console, "6. the scan 15 days later: one fresh, delivered key")
    console.print(scan_table(_rotator(aws, settings, days=15).plan_all()))


def _chapter(console: Console, title: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{title}", align="left")
