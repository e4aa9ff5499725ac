"""The ``keyturn:current`` mirror: what it says, and how strictly it is read."""

from __future__ import annotations

import pytest

from keyturn.core import codec
from keyturn.errors import ConfigurationError

VERSION = "6f4f2a4e-6b65-7974-7572-6e2d6b657973"
KEY, PREVIOUS = "AKIAAAAAAAAAAAAAAAAB", "AKIAAAAAAAAAAAAAAAAA"
DOC = {
    "AccessKeyId": KEY,
    "SecretAccessKey": "never mirrored",
    codec.META: {
        "StoredAt": "2026-12-01T06:00:00+00:00",
        "PreviousAccessKeyId": PREVIOUS,
        "GraceDays": 7,
        "DeleteAfterDays": 0,
    },
}


def test_the_mirror_carries_what_state_from_reads_and_never_the_secret() -> None:
    value = codec.mirror_tag(VERSION, DOC)
    assert value is not None
    assert "never mirrored" not in value
    mirror = codec.parse_mirror(value)
    assert mirror is not None
    assert mirror.version_id == VERSION
    assert codec.state_from(mirror.document, {}) == codec.state_from(DOC, {})


def test_a_document_keyturn_did_not_write_is_not_mirrored() -> None:
    assert codec.mirror_tag(VERSION, {"AccessKeyId": KEY}) is None


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        f"{VERSION}/{KEY}/2026-12-01T06:00:00+00:00/{PREVIOUS}/7",  # five fields
        f"short/{KEY}/2026-12-01T06:00:00+00:00/{PREVIOUS}/7/0",
        f"{VERSION}/akia-lower/2026-12-01T06:00:00+00:00//7/0",
        f"{VERSION}/{KEY}/2026-12-01T06:00:00//7/0",  # a naive time
        f"{VERSION}/{KEY}/2026-12-01T06:00:00+00:00//\u0667/0",  # not ASCII digits
        f"{VERSION}/{KEY}/2026-12-01T06:00:00+00:00//99999/0",
        f"{VERSION}/{KEY}/2026-12-01T06:00:00+00:00//-1/0",
        f"{VERSION}/{KEY}/" + "9" * 300,
    ],
)
def test_a_malformed_mirror_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="keyturn:current"):
        codec.parse_mirror(raw)
