"""Translation of botocore failures into keyturn's error tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from keyturn.errors import AwsError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Raise :class:`AwsError` for any botocore failure inside the block.

    Only the AWS error code and message are kept: AWS never echoes a secret access key in an
    error, and request parameters are not copied into the message.
    """
    try:
        yield
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        raise AwsError(operation, error_code(exc), message) from None
    except BotoCoreError as exc:
        raise AwsError(operation, type(exc).__name__, str(exc)) from None
