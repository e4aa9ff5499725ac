"""keyturn's one error tree.

::

    KeyturnError                      root; never raised itself
    ├── ConfigurationError            bad settings, policy values or user tags
    ├── BadRequestError               malformed event or CLI input (HTTP 400, exit 2)
    ├── UserNotFoundError             the named IAM user does not exist (HTTP 404)
    ├── RefusedError                  a safety rule forbids the change (HTTP 409, exit 3)
    ├── AwsError                      an AWS call failed after botocore's retries
    │   ├── DeliveryError             the new secret could not be stored; the new key was removed
    │   └── ConcurrentDeliveryError   another run delivered a key for the same rotation first
    ├── VerificationError             the new key never authenticated; it was removed again
    ├── StateUnreadableError          a metadata-only reader would need a secret value
    ├── PartialRotationError          a run stopped part-way; carries what was done
    └── UnexpectedError               a surprise while handling one user; the run went on

Messages never contain secret material: only user names, masked or public key ids, and AWS
error codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class KeyturnError(Exception):
    """Root of every error keyturn raises on purpose."""

    exit_code: ClassVar[int] = 1
    status_code: ClassVar[int] = 500


class ConfigurationError(KeyturnError):
    """A setting, policy value or user tag is invalid."""

    exit_code = 2
    status_code = 400


class BadRequestError(KeyturnError):
    """An event or command line is malformed; nothing was changed."""

    exit_code = 2
    status_code = 400


class StateUnreadableError(KeyturnError):
    """A metadata-only reader (the auditor's ``scan``/``plan``/``report``) cannot read a user's
    stored state without a secret value: the secret predates the ``keyturn:current`` mirror, or
    the mirror is stale. The next rotation (or any run that writes a mark) writes it."""

    def __init__(self, user_name: str, why: str) -> None:
        super().__init__(
            f"state of {user_name} not readable from metadata alone ({why}); "
            "a run with keyturn's own role will mirror it"
        )
        self.user_name = user_name


class UserNotFoundError(KeyturnError):
    """The named IAM user does not exist; nothing was changed."""

    status_code = 404

    def __init__(self, user_name: str) -> None:
        super().__init__(f"IAM user {user_name!r} does not exist")
        self.user_name = user_name


class RefusedError(KeyturnError):
    """A safety rule forbids the requested change; nothing was changed."""

    exit_code = 3
    status_code = 409

    def __init__(self, user_name: str, reason: str) -> None:
        super().__init__(f"refused for {user_name}: {reason}")
        self.user_name = user_name
        self.reason = reason


class AwsError(KeyturnError):
    """An AWS call failed (after botocore's own retries)."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed: {code}: {message}")
        self.operation = operation
        self.code = code


class DeliveryError(AwsError):
    """The new key's secret could not be stored, so the new key was removed again."""


class VerificationError(KeyturnError):
    """The new key did not authenticate within the verification budget; it was deleted and the
    previous key left as it was."""

    status_code = 502

    def __init__(self, user_name: str, shown_key_id: str, outcome: str) -> None:
        super().__init__(f"{user_name}: new key {shown_key_id} was {outcome}; it was removed")
        self.user_name = user_name


class PartialRotationError(KeyturnError):
    """A user's plan stopped part-way; ``done`` lists the steps that completed."""

    def __init__(self, user_name: str, done: Sequence[str], cause: KeyturnError) -> None:
        steps = ", ".join(done) or "nothing"
        super().__init__(f"{user_name}: stopped after {steps}: {cause}")
        self.user_name = user_name
        self.done = tuple(done)
        self.cause = cause


class ConcurrentDeliveryError(AwsError):
    """Another run stored a different key for the same rotation first; ours was not stored."""


class UnexpectedError(KeyturnError):
    """Something keyturn did not expect went wrong while handling one user; that user failed
    and the run went on. The message names only the exception's type: its text could hold
    anything."""

    def __init__(self, user_name: str, cause: BaseException) -> None:
        super().__init__(f"{user_name}: unexpected {type(cause).__name__}; see the log")
        self.user_name = user_name
