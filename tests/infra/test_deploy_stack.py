"""keyturn's SAM template, translated offline and created as a stack in moto.

Each test deploys the example integration user and keyturn's stack into a fresh moto, then
reads the resources back through the ordinary AWS APIs.
"""

from __future__ import annotations

import json

import pytest

from keyturn.emulator import EmbeddedAws

from .iam_audit import allows, listed, policy_document
from .stack import (
    ACCOUNT,
    Deployed,
    deploy_integration_user,
    deploy_keyturn,
    user_policy,
)

USER = "keyturn-sqs-integration"
EMAIL = "ops@example.com"
FULL = {
    "NotificationEmail": EMAIL,
    "RecipeUserName": USER,
    "RecipeIntervalDays": "30",
    "SecretsKmsKey": "create",
    "ExtraUserNames": "bob,carol",
    "ManageTaggedUsers": "true",
    "EventBusName": "ops-events",
    "SecurityHubFindings": "true",
    "Mode": "audit",
    "ActUserNames": "bob",
    "ActUserPaths": "/pilot/,/keyturn/team/",
    "ActTag": "rollout=act",
}
UNSCOPABLE_READS = {
    "iam:ListUsers",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "secretsmanager:ListSecrets",  # the retirement pass's listing; a read, never a write
}


def _deploy(aws: EmbeddedAws, parameters: dict[str, str]) -> Deployed:
    deploy_integration_user(aws, USER)
    return deploy_keyturn(aws, "keyturn", parameters)


@pytest.fixture
def full(cloud: EmbeddedAws) -> Deployed:
    """Every optional part switched on."""
    return _deploy(cloud, FULL)


@pytest.fixture
def minimal(cloud: EmbeddedAws) -> Deployed:
    """Every parameter at its default."""
    return _deploy(cloud, {})


def test_stack_has_every_resource_of_the_recipe(full: Deployed) -> None:
    types = {logical: r["type"] for logical, r in full.resources.items()}

    assert types == {
        "RotationFunction": "AWS::Lambda::Function",
        "RotationFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "RotationFunctionDailyRun": "AWS::Events::Rule",
        "RotationFunctionDailyRunPermission": "AWS::Lambda::Permission",
        "RotationFunctionHourlyRetire": "AWS::Events::Rule",
        "RotationFunctionHourlyRetirePermission": "AWS::Lambda::Permission",
        "RecipeSchedule": "AWS::Events::Rule",
        "RecipeSchedulePermission": "AWS::Lambda::Permission",
        "SecretsManagerRotationPermission": "AWS::Lambda::Permission",
        "RotationLogGroup": "AWS::Logs::LogGroup",
        "RotationRole": "AWS::IAM::Role",
        "NotificationKey": "AWS::KMS::Key",
        "NotificationTopic": "AWS::SNS::Topic",
        "NotificationEmailSubscription": "AWS::SNS::Subscription",
        "SecretsKey": "AWS::KMS::Key",
        "FailureQueue": "AWS::SQS::Queue",
        "FunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
        "RotationsRefusedAlarm": "AWS::CloudWatch::Alarm",
        "RotationsFailedAlarm": "AWS::CloudWatch::Alarm",
        "FailureQueueAlarm": "AWS::CloudWatch::Alarm",
        "NoSuccessfulRunAlarm": "AWS::CloudWatch::Alarm",
        "UsersDeferredAlarm": "AWS::CloudWatch::Alarm",
        "KeysPastCapAlarm": "AWS::CloudWatch::Alarm",
    }
    assert full.outputs["SecretPrefix"] == "keyturn/"
    assert full.outputs["TopicArn"] == full.physical("NotificationTopic")


def test_function_runs_the_handler_with_the_stack_configuration(full: Deployed) -> None:
    config = full.client("lambda").get_function_configuration(
        FunctionName=full.outputs["FunctionArn"]
    )
    role_arn = full.client("iam").get_role(RoleName=full.physical("RotationRole"))["Role"]["Arn"]
    # moto's KMS stores a template's KeyPolicy unserialised and then fails DescribeKey on it.
    secrets_key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{full.physical('SecretsKey')}"

    assert config["Handler"] == "keyturn.handler.lambda_handler"
    assert config["Runtime"] == "python3.13"
    assert config["Role"] == role_arn
    assert (config["MemorySize"], config["Timeout"]) == (256, 900)
    assert full.function_environment() == {
        "KEYTURN_TOPIC_ARN": full.outputs["TopicArn"],
        "KEYTURN_NOTIFY_INCLUDE_SECRET": "false",
        "KEYTURN_EVENT_BUS": "ops-events",
        "KEYTURN_SECURITY_HUB": "true",
        "KEYTURN_SECRET_PREFIX": "keyturn/",
        "KEYTURN_KMS_KEY_ID": secrets_key_arn,
        "KEYTURN_ROTATE_AFTER_DAYS": "80",
        "KEYTURN_GRACE_DAYS": "7",
        "KEYTURN_DELETE_AFTER_DAYS": "7",
        "KEYTURN_MIN_GRACE_DAYS": "1",
        "KEYTURN_WARN_BEFORE_DAYS": "0",
        # The run clock and the schedule come from one parameter, RunIntervalHours.
        "KEYTURN_RUN_INTERVAL_HOURS": "24",
        "KEYTURN_RUN_TOLERANCE_SECONDS": "300",
        "KEYTURN_USER_PATH": "/keyturn/",
        # The recipe schedule's user is in scope by construction (issue 9).
        "KEYTURN_USERS": "bob,carol,keyturn-sqs-integration",
        "KEYTURN_MANAGE_TAGGED": "true",
        "KEYTURN_DELETE_FOREIGN_KEYS": "false",
        # The pace parameters at their defaults (docs/deploy.md#pace).
        "KEYTURN_CONCURRENCY": "32",
        "KEYTURN_USERS_IN_FLIGHT": "128",
        "KEYTURN_IAM_WRITES_PER_SECOND": "25",
        "KEYTURN_MODE": "audit",
        "KEYTURN_ACT_USERS": "bob",
        "KEYTURN_ACT_PATHS": "/pilot/,/keyturn/team/",
        "KEYTURN_ACT_TAG": "rollout=act",
        # The only principal besides the user its secrets' resource policies let in (issue 9).
        "KEYTURN_TRUSTED_PRINCIPAL_ARNS": role_arn,
        "POWERTOOLS_SERVICE_NAME": "keyturn",
        "POWERTOOLS_METRICS_NAMESPACE": "keyturn",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def test_role_touches_keys_of_users_in_scope_only(full: Deployed) -> None:
    policy = full.role_policy()
    user_arn = f"arn:aws:iam::{ACCOUNT}:user"

    # GIVEN users on keyturn's path, named in ExtraUserNames, tagged, and none of these
    for action in ("iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"):
        assert allows(policy, action, f"{user_arn}/keyturn/{USER}")
        assert allows(policy, action, f"{user_arn}/bob")
        assert allows(policy, action, f"{user_arn}/team/carol")
        assert allows(policy, action, f"{user_arn}/team/dave", {"keyturn:managed": "true"})
        # THEN the role may change the keys of the first three kinds and of no one else
        assert not allows(policy, action, f"{user_arn}/admin")
        assert not allows(policy, action, f"{user_arn}/team/bobby")
        assert not allows(policy, action, f"{user_arn}/team/dave", {"keyturn:managed": "no"})
        assert not allows(policy, action, "*")


def test_role_writes_nothing_on_star_and_has_no_managed_policy(full: Deployed) -> None:
    iam = full.client("iam")
    role = iam.get_role(RoleName=full.physical("RotationRole"))["Role"]
    statements = full.role_policy()["Statement"]
    on_star = {action for s in statements if s["Resource"] == "*" for action in listed(s["Action"])}

    assert on_star == UNSCOPABLE_READS
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    trust = policy_document(role["AssumeRolePolicyDocument"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]


def test_role_reaches_secrets_topic_keys_queue_and_logs_it_owns(full: Deployed) -> None:
    policy = full.role_policy()
    region_account = f"us-east-1:{ACCOUNT}"
    secret = f"arn:aws:secretsmanager:{region_account}:secret:keyturn/{USER}-AbCdEf"
    other_secret = f"arn:aws:secretsmanager:{region_account}:secret:prod/db-AbCdEf"
    queue_arn = full.client("sqs").get_queue_attributes(
        QueueUrl=full.outputs["FailureQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    assert allows(policy, "secretsmanager:PutSecretValue", secret)
    blocks_public = {"secretsmanager:BlockPublicPolicy": True}
    assert allows(policy, "secretsmanager:PutResourcePolicy", secret, context=blocks_public)
    assert not allows(policy, "secretsmanager:PutResourcePolicy", secret)
    assert not allows(policy, "secretsmanager:GetSecretValue", other_secret)
    assert not allows(policy, "secretsmanager:DeleteSecret", secret)
    assert allows(policy, "sns:Publish", full.outputs["TopicArn"])
    assert not allows(policy, "sns:Publish", f"arn:aws:sns:{region_account}:other")
    assert allows(policy, "sqs:SendMessage", queue_arn)
    kms = [s for s in policy["Statement"] if any(a.startswith("kms:") for a in listed(s["Action"]))]
    assert {s["Condition"]["StringEquals"]["kms:ViaService"] for s in kms} == {
        "secretsmanager.us-east-1.amazonaws.com",
        "sns.us-east-1.amazonaws.com",
    }


def test_topic_is_encrypted_and_mails_its_subscriber(full: Deployed) -> None:
    sns = full.client("sns")
    topic = full.outputs["TopicArn"]
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]

    assert attributes["KmsMasterKeyId"] == full.physical("NotificationKey")
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email-json", EMAIL)]


def test_schedules_send_the_run_and_the_recipe_input(full: Deployed) -> None:
    events = full.client("events")
    daily = events.describe_rule(Name=full.physical("RotationFunctionDailyRun"))
    recipe = events.describe_rule(Name=full.physical("RecipeSchedule"))
    daily_targets = events.list_targets_by_rule(Rule=daily["Name"])["Targets"]
    recipe_targets = events.list_targets_by_rule(Rule=recipe["Name"])["Targets"]
    permissions = json.loads(
        full.client("lambda").get_policy(FunctionName=full.outputs["FunctionArn"])["Policy"]
    )["Statement"]

    assert daily["ScheduleExpression"] == "rate(24 hours)"
    assert [(t["Arn"], json.loads(t["Input"])) for t in daily_targets] == [
        (full.outputs["FunctionArn"], {"action": "run"})
    ]
    hourly = events.describe_rule(Name=full.physical("RotationFunctionHourlyRetire"))
    hourly_targets = events.list_targets_by_rule(Rule=hourly["Name"])["Targets"]
    assert hourly["ScheduleExpression"] == "rate(1 hour)"
    assert [(t["Arn"], json.loads(t["Input"])) for t in hourly_targets] == [
        (full.outputs["FunctionArn"], {"action": "retire"})
    ]
    assert recipe["ScheduleExpression"] == "rate(30 days)"
    assert [(t["Arn"], json.loads(t["Input"])) for t in recipe_targets] == [
        (full.outputs["FunctionArn"], {"action": "create", "username": USER})
    ]
    by_events = [p for p in permissions if p["Principal"]["Service"] == "events.amazonaws.com"]
    assert sorted(p["Condition"]["ArnLike"]["AWS:SourceArn"] for p in by_events) == sorted(
        [daily["Arn"], recipe["Arn"], hourly["Arn"]]
    )
    [by_secrets] = [
        p for p in permissions if p["Principal"]["Service"] == "secretsmanager.amazonaws.com"
    ]
    assert by_secrets["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT
    assert by_secrets["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:keyturn/*"
    )


def test_alarms_watch_errors_refusals_failures_and_the_queue(full: Deployed) -> None:
    alarms = full.client("cloudwatch").describe_alarms()["MetricAlarms"]
    function_name = full.physical("RotationFunction")
    queue_name = full.outputs["FailureQueueUrl"].rsplit("/", 1)[1]

    watched = {
        (a["Namespace"], a["MetricName"], tuple((d["Name"], d["Value"]) for d in a["Dimensions"]))
        for a in alarms
    }
    service = (("service", "keyturn"),)
    assert watched == {
        ("AWS/Lambda", "Errors", (("FunctionName", function_name),)),
        ("keyturn", "RotationsRefused", service),
        ("keyturn", "RotationsFailed", service),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", queue_name),)),
        ("keyturn", "RunsSucceeded", service),
        ("keyturn", "UsersDeferred", service),
        ("keyturn", "KeysPastCap", service),
    }
    for alarm in alarms:
        assert alarm["AlarmActions"] == [full.outputs["TopicArn"]]
        if alarm["MetricName"] != "RunsSucceeded":
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def _silence_alarms(deployed: Deployed) -> dict[str, tuple[object, ...]]:
    """Each silence alarm's metric, statistic, period, evaluation and missing-data settings."""
    alarms = deployed.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {
        a["MetricName"]: (
            a["Statistic"],
            a["Period"],
            a["EvaluationPeriods"],
            a.get("DatapointsToAlarm"),
            a["ComparisonOperator"],
            a["Threshold"],
            a["TreatMissingData"],
        )
        for a in alarms
        if a["MetricName"] in {"RunsSucceeded", "UsersDeferred", "KeysPastCap"}
    }


def test_silence_alarms_notice_a_stopped_schedule_deferrals_and_keys_past_the_cap(
    minimal: Deployed,
) -> None:
    assert _silence_alarms(minimal) == {
        # 26 hours each without a success: the daily run plus two hours; silence breaches
        "RunsSucceeded": ("Sum", 3600, 26, 26, "LessThanThreshold", 1, "breaching"),
        # users deferred in two different hours of one window: two consecutive daily runs
        "UsersDeferred": ("Sum", 3600, 26, 2, "GreaterThanThreshold", 0, "notBreaching"),
        # each run's count, 0 included; between runs the alarm keeps the last run's answer
        "KeysPastCap": ("Maximum", 3600, 1, None, "GreaterThanThreshold", 0, "ignore"),
    }


def test_the_silence_window_follows_its_parameter(cloud: EmbeddedAws) -> None:
    weekly = _deploy(cloud, {"RunIntervalHours": "166", "RunAlarmWindowHours": "168"})
    found = _silence_alarms(weekly)
    assert found["RunsSucceeded"][2:4] == (168, 168)
    assert found["UsersDeferred"][2:4] == (168, 2)


def test_failed_invocations_are_retried_then_queued(full: Deployed) -> None:
    config = full.client("lambda").get_function_event_invoke_config(
        FunctionName=full.outputs["FunctionArn"]
    )
    queue = full.client("sqs").get_queue_attributes(
        QueueUrl=full.outputs["FailureQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    (group,) = full.client("logs").describe_log_groups(logGroupNamePrefix="/keyturn/")["logGroups"]

    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue["QueueArn"]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert queue["MessageRetentionPeriod"] == "1209600"
    assert (group["logGroupName"], group["retentionInDays"]) == ("/keyturn/keyturn", 365)


def test_defaults_leave_every_optional_part_out(minimal: Deployed) -> None:
    environment = minimal.function_environment()
    statements = {s["Sid"] for s in minimal.role_policy()["Statement"]}

    assert not {"NotificationEmailSubscription", "RecipeSchedule", "SecretsKey"} & set(
        minimal.resources
    )
    assert "KEYTURN_KMS_KEY_ID" not in environment
    assert "KEYTURN_USERS" not in environment
    assert "KEYTURN_EVENT_BUS" not in environment
    assert "PutLifecycleEvents" not in statements
    assert "KEYTURN_SECURITY_HUB" not in environment
    assert not {"ImportFindings", "ReadAndResolveFindings"} & statements
    assert environment["KEYTURN_MANAGE_TAGGED"] == "false"
    # act by default (the recipe's deployment keeps working); no rollout rule, no tag rule
    assert environment["KEYTURN_MODE"] == "act"
    assert not any(environment.get(f"KEYTURN_ACT_{rule}") for rule in ("USERS", "PATHS", "TAG"))

    assert "RotateKeysOfTaggedUsers" not in statements
    assert "RotateKeysOfTheRecipeUser" not in statements
    assert "EncryptSecretsWithTheirKey" not in statements
    (in_scope,) = [
        s for s in minimal.role_policy()["Statement"] if s["Sid"] == "RotateKeysOfUsersInScope"
    ]
    assert in_scope["Resource"] == f"arn:aws:iam::{ACCOUNT}:user/keyturn/*"


def test_integration_user_is_the_recipes_user_made_safe(full: Deployed) -> None:
    iam = full.client("iam")
    user = iam.get_user(UserName=USER)["User"]
    tags = iam.list_user_tags(UserName=USER)["Tags"]
    policy = user_policy(full.aws, USER)
    sqs = full.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{USER}-work")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue = queue["Attributes"]["QueueArn"]
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:keyturn/{USER}-AbCdEf"

    assert user["Path"] == "/keyturn/"
    assert tags == [{"Key": "keyturn:managed", "Value": "true"}]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=USER)
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sqs:CreateQueue"):
        assert allows(policy, action, queue)
        assert not allows(policy, action, queue + "-other")
    assert allows(policy, "sqs:ListQueues", "*")
    assert allows(policy, "secretsmanager:GetSecretValue", secret)
    assert not allows(policy, "secretsmanager:GetSecretValue", secret.replace(USER, USER + "2"))


@pytest.mark.parametrize(
    ("parameters", "schedule", "interval"),
    [
        ({"RunIntervalHours": "1"}, "rate(1 hour)", "1"),
        ({"RunIntervalHours": "6"}, "rate(6 hours)", "6"),
        # A free-form schedule has no interval keyturn can read: exact timestamps.
        ({"ScheduleExpression": "cron(0 6 * * ? *)"}, "cron(0 6 * * ? *)", "0"),
    ],
)
def test_the_run_clock_follows_the_schedule(
    cloud: EmbeddedAws, parameters: dict[str, str], schedule: str, interval: str
) -> None:
    deployed = _deploy(cloud, parameters)
    rule = deployed.client("events").describe_rule(
        Name=deployed.physical("RotationFunctionDailyRun")
    )

    assert rule["ScheduleExpression"] == schedule
    assert deployed.function_environment()["KEYTURN_RUN_INTERVAL_HOURS"] == interval


def test_role_puts_events_on_the_named_bus_only(full: Deployed) -> None:
    policy = full.role_policy()
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus"
    assert allows(policy, "events:PutEvents", f"{bus}/ops-events")
    assert not allows(policy, "events:PutEvents", f"{bus}/default")
    assert not allows(
        policy, "events:PutEvents", f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/ops-events"
    )
    assert not allows(policy, "events:PutRule", f"{bus}/ops-events")


def test_role_imports_findings_under_its_own_product_only(full: Deployed) -> None:
    policy = full.role_policy()
    assert full.function_environment()["KEYTURN_SECURITY_HUB"] == "true"
    hub = f"arn:aws:securityhub:us-east-1:{ACCOUNT}"
    own = f"{hub}:product/{ACCOUNT}/default"
    assert allows(policy, "securityhub:BatchImportFindings", own)
    assert not allows(policy, "securityhub:BatchImportFindings", f"{hub}:product/aws/guardduty")
    assert not allows(
        policy,
        "securityhub:BatchImportFindings",
        "arn:aws:securityhub:us-east-1:210987654321:product/210987654321/default",
    )
    for action in ("securityhub:GetFindings", "securityhub:BatchUpdateFindings"):
        assert allows(policy, action, f"{hub}:hub/default")
        assert not allows(policy, action, f"arn:aws:securityhub:eu-west-1:{ACCOUNT}:hub/default")
    assert not allows(policy, "securityhub:DisableSecurityHub", f"{hub}:hub/default")
