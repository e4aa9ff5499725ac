"""Amazon SES SMTP credentials derived from an access key (AWS's documented algorithm).

SES accepts an IAM user's access key id as the SMTP user name and, as the password, a value
derived from the secret access key for one region: a SigV4 signing key chain over a fixed date,
the region and the ``ses`` service, signing ``SendRawEmail``, prefixed with version byte 0x04
and base64-encoded. See "Obtaining Amazon SES SMTP credentials" in the SES developer guide.
Pure: no AWS, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from keyturn.core.models import SecretValue
from keyturn.errors import ConfigurationError

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
"""An AWS region name such as ``eu-west-1`` or ``us-gov-west-1``: ASCII only, bounded."""
MAX_REGION_LENGTH = 32

_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = b"\x04"


def parse_region(raw: str, where: str) -> str:
    """``raw`` as a region name, or a ConfigurationError naming ``where`` (never a secret)."""
    if len(raw) > MAX_REGION_LENGTH or not REGION.fullmatch(raw):
        shown = raw if len(raw) <= MAX_REGION_LENGTH else raw[:MAX_REGION_LENGTH] + "..."
        raise ConfigurationError(f"{where} must be an AWS region such as eu-west-1, not {shown!r}")
    return raw


def smtp_password(secret: SecretValue, region: str) -> SecretValue:
    """The SES SMTP password for ``secret`` in ``region``, itself a secret.

    Raises:
        ConfigurationError: ``region`` is not a region name.
    """
    parse_region(region, "the SES SMTP region")
    signature = ("AWS4" + secret.reveal()).encode()
    for part in (_DATE, region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = hmac.new(signature, part.encode(), hashlib.sha256).digest()
    return SecretValue(base64.b64encode(_VERSION + signature).decode("ascii"))
