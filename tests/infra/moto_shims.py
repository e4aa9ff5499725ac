"""CloudFormation support moto lacks for resource types keyturn's templates use.

moto's CloudFormation skips ``AWS::CloudWatch::Alarm``, ``AWS::SNS::Subscription``,
``AWS::Lambda::EventInvokeConfig`` and ``AWS::SQS::QueuePolicy`` (it warns and creates
nothing), its ``AWS::KMS::Key`` keeps the key policy as an object (GetKeyPolicy and
DescribeKey then fail), and its ``AWS::IAM::User``
applies the path alone, dropping the user's tags and inline policies. Each shim here does what
CloudFormation's own handler does: it calls the service's API operation with the resource's
properties. The properties are first checked against the operation's input shape in botocore's
service model (names, required members, types), so a misspelt or missing property fails the
stack instead of being passed over; then the moto backend performs the operation, and the tests
read the result back through the ordinary API (DescribeAlarms, ListSubscriptionsByTopic,
GetFunctionEventInvokeConfig, GetQueueAttributes).

``install()`` registers the shims; it must run in the process that hosts the moto server.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import botocore.session
from botocore.validate import ParamValidator
from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.iam.models import User, iam_backends
from moto.kms.models import Key
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.utilities.utils import get_partition

_SERVICE_MODELS = botocore.session.get_session()


def _coerce(value: Any, shape: Any) -> Any:
    """CloudFormation hands parameter values over as strings; the API wants the shape's type."""
    kind = shape.type_name
    if kind in {"integer", "long"}:
        return int(value)
    if kind in {"double", "float"}:
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _coerce(v, members[k]) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_coerce(v, shape.member) for v in value]
    return value


def _without_no_value(value: Any) -> Any:
    """CloudFormation drops ``!Ref AWS::NoValue`` from lists too; moto leaves ``None`` there."""
    if isinstance(value, dict):
        return {k: _without_no_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_no_value(v) for v in value if v is not None]
    return value


def api_params(service: str, operation: str, properties: dict[str, Any]) -> dict[str, Any]:
    """`properties` as the parameters of `operation`, validated against botocore's model.

    Raises:
        ValueError: the properties do not make a valid request.
    """
    shape = _SERVICE_MODELS.get_service_model(service).operation_model(operation).input_shape
    if shape is None:
        raise ValueError(f"{service}.{operation} takes no input")
    params = _coerce(_without_no_value(properties), shape)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ValueError(f"{service}.{operation}: {report.generate_report()}")
    return params  # type: ignore[no-any-return]


class _ApiResource:
    """A resource created by one API call; its physical id is what the call returned.

    Each shim also names ``CloudFormationModel`` among its own bases: moto finds models through
    ``CloudFormationModel.__subclasses__()``, which lists direct subclasses only.
    """

    cfn_type: ClassVar[str]

    def __init__(self, physical_id: str) -> None:
        self.physical_id = physical_id

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:  # noqa: ARG003 - moto's signature
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,  # noqa: ARG003 - moto's signature
    ) -> _ApiResource:
        properties = dict(cloudformation_json.get("Properties", {}))
        return cls(cls.create(resource_name, properties, account_id, region_name))

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        raise NotImplementedError("the tests create stacks, they never update them")

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, *args: Any, **kwargs: Any) -> None:
        """Deleting a stack leaves these behind; moto's reset clears them between tests."""

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:
        raise NotImplementedError


class MetricAlarm(_ApiResource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:
        properties.setdefault("AlarmName", name)
        p = api_params("cloudwatch", "PutMetricAlarm", properties)
        cloudwatch_backends[account_id][region].put_metric_alarm(
            name=p["AlarmName"],
            namespace=p.get("Namespace"),  # type: ignore[arg-type]
            metric_name=p.get("MetricName"),  # type: ignore[arg-type]
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=p["EvaluationPeriods"],
            period=p.get("Period"),  # type: ignore[arg-type]
            threshold=p.get("Threshold"),  # type: ignore[arg-type]
            statistic=p.get("Statistic"),  # type: ignore[arg-type]
            description=p.get("AlarmDescription"),  # type: ignore[arg-type]
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            treat_missing_data=p.get("TreatMissingData"),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
        )
        return str(p["AlarmName"])


class TopicSubscription(_ApiResource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:  # noqa: ARG003
        p = api_params("sns", "Subscribe", properties)
        backend = sns_backends[account_id][region]
        return str(backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"]).arn)


class EventInvokeConfig(_ApiResource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:  # noqa: ARG003
        p = api_params("lambda", "PutFunctionEventInvokeConfig", properties)
        function = p.pop("FunctionName")
        p.pop("Qualifier", None)  # moto keeps one configuration per function
        lambda_backends[account_id][region].put_function_event_invoke_config(function, p)
        return f"{function}$LATEST"


class QueuePolicy(_ApiResource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:
        document = json.dumps(properties["PolicyDocument"])
        backend = sqs_backends[account_id][region]
        for url in properties["Queues"]:
            p = api_params(
                "sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": document}}
            )
            backend.set_queue_attributes(p["QueueUrl"].rsplit("/", 1)[-1], p["Attributes"])
        return name


class KeyWithPolicyText(Key, CloudFormationModel):
    """moto's key, given its policy as the JSON text the KMS API stores."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Key:
        properties = dict(cloudformation_json.get("Properties", {}))
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return super().create_from_cloudformation_json(
            resource_name,
            {**cloudformation_json, "Properties": properties},
            account_id,
            region_name,
            **kwargs,
        )


class UserWithTagsAndPolicies(User, CloudFormationModel):
    """moto's user, plus the Tags and Policies moto's CloudFormation leaves out."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> User:
        properties = _without_no_value(cloudformation_json.get("Properties", {}))
        unsupported = set(properties) - {"UserName", "Path", "Tags", "Policies"}
        if unsupported:
            raise ValueError(f"AWS::IAM::User shim cannot apply {sorted(unsupported)}")
        user = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        backend = iam_backends[account_id][get_partition(region_name)]
        if properties.get("Tags"):
            p = api_params("iam", "TagUser", {"UserName": user.name, "Tags": properties["Tags"]})
            backend.tag_user(p["UserName"], p["Tags"])
        for policy in properties.get("Policies", []):
            document = json.dumps(policy["PolicyDocument"])
            p = api_params(
                "iam",
                "PutUserPolicy",
                {
                    "UserName": user.name,
                    "PolicyName": policy["PolicyName"],
                    "PolicyDocument": document,
                },
            )
            backend.put_user_policy(p["UserName"], p["PolicyName"], p["PolicyDocument"])
        return user


SHIMS = (
    MetricAlarm,
    TopicSubscription,
    EventInvokeConfig,
    QueuePolicy,
    KeyWithPolicyText,
    UserWithTagsAndPolicies,
)


def install() -> None:
    """Make moto's CloudFormation create the shimmed types (idempotent)."""
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    models = parsing.get_model_map()
    missing = [
        shim.__name__ for shim in SHIMS if models.get(shim.cloudformation_type()) is not shim
    ]
    if missing:
        raise RuntimeError(f"moto CloudFormation shims not registered: {missing}")
