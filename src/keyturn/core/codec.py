"""How stored state is written into a secret: the version's JSON document and the secret's tags.

Shared by the Secrets Manager adapter and the in-memory fake, so both read and write the same
shapes. Pure: no AWS, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keyturn.core.delivery import Delivery, Marks, StoredKey
from keyturn.core.models import SecretValue, StoredState

TAG_MANAGED_BY = "keyturn:managed-by"
TAG_USER = "keyturn:user"
TAG_PENDING_SINCE = "keyturn:pending-since"
TAG_DEACTIVATED = "keyturn:deactivated"
TAG_WARNED = "keyturn:warned"
TAG_VERIFIED = "keyturn:verified"
TAG_POSTPONED = "keyturn:postponed"
META = "Keyturn"
_TOKEN_NAMESPACE = uuid.UUID("6f4f2a4e-6b65-7974-7572-6e2d6b657973")


def document(delivery: Delivery) -> dict[str, Any]:
    """The SecretString JSON: the standard fields consumers read, plus keyturn's own record."""
    key = delivery.key
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.key_id,
        "SecretAccessKey": key.secret.reveal(),
        "CreateDate": key.created.isoformat(),
        META: {
            "StoredAt": delivery.stored_at.isoformat(),
            "PreviousAccessKeyId": delivery.previous_key_id,
            "GraceDays": delivery.grace_days,
            "DeleteAfterDays": delivery.delete_after_days,
        },
    }


def delivery_token(user_name: str, state: StoredState | None, attempt: int = 0) -> str:
    """The ClientRequestToken for the next version: one per user, generation and attempt.

    Two runs rotating the same generation at once compute the same token, so Secrets Manager
    accepts only the first of their (different) values: a compare-and-set. ``attempt`` counts
    abandoned versions of this generation (a key that failed verification), so a later run can
    try again with a fresh token.
    """
    current = state.current_key_id if state else None
    stored = state.stored_at.isoformat() if state and state.stored_at else ""
    suffix = f"/{attempt}" if attempt else ""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, f"{user_name}/{current}/{stored}{suffix}"))


def state_from(doc: Mapping[str, Any] | None, tags: Mapping[str, str]) -> StoredState | None:
    """Stored state from the AWSCURRENT document (None if no version) and the secret's tags."""
    deactivated_key, deactivated_at = _split_stamp(tags.get(TAG_DEACTIVATED))
    verified_key, verified_at = _split_stamp(tags.get(TAG_VERIFIED))
    postponed_key, postponed_at = _split_stamp(tags.get(TAG_POSTPONED))
    pending = _time(tags.get(TAG_PENDING_SINCE))
    if doc is None and pending is None and deactivated_key is None:
        return None
    meta: Mapping[str, Any] = (doc or {}).get(META) or {}
    return StoredState(
        current_key_id=(doc or {}).get("AccessKeyId"),
        stored_at=_time(meta.get("StoredAt")),
        previous_key_id=meta.get("PreviousAccessKeyId"),
        grace_days=_int(meta.get("GraceDays")),
        delete_after_days=_int(meta.get("DeleteAfterDays")),
        pending_since=pending,
        deactivated_key_id=deactivated_key,
        deactivated_at=deactivated_at,
        warned_key_id=tags.get(TAG_WARNED) or None,
        verified_key_id=verified_key,
        verified_at=verified_at,
        postponed_key_id=postponed_key,
        postponed_at=postponed_at,
    )


def stored_key(doc: Mapping[str, Any]) -> StoredKey:
    """The key and secret in a version's document."""
    return StoredKey(
        key_id=str(doc["AccessKeyId"]),
        secret=SecretValue(str(doc["SecretAccessKey"])),
        created=_time(doc.get("CreateDate")) or datetime.fromisoformat("1970-01-01T00:00:00+00:00"),
    )


def mark_tags(marks: Marks) -> tuple[dict[str, str], list[str]]:
    """The tags to set and the tag keys to remove for ``marks``."""
    to_set: dict[str, str] = {}
    to_remove: list[str] = []
    if marks.pending_since is not None:
        to_set[TAG_PENDING_SINCE] = marks.pending_since.isoformat()
    if marks.clear_pending:
        to_remove.append(TAG_PENDING_SINCE)
    stamps = (
        (TAG_DEACTIVATED, marks.deactivated),
        (TAG_VERIFIED, marks.verified),
        (TAG_POSTPONED, marks.postponed),
    )
    for tag, stamp in stamps:
        if stamp is not None:
            key_id, when = stamp
            to_set[tag] = f"{key_id}@{when.isoformat()}"
    if marks.warned_key_id is not None:
        to_set[TAG_WARNED] = marks.warned_key_id
    return to_set, to_remove


def previous_key_id(doc: Mapping[str, Any]) -> str | None:
    """The key a version's key replaced, from keyturn's record in the document."""
    meta: Mapping[str, Any] = doc.get(META) or {}
    value = meta.get("PreviousAccessKeyId")
    return value if isinstance(value, str) else None


def _split_stamp(raw: str | None) -> tuple[str | None, datetime | None]:
    if not raw or "@" not in raw:
        return None, None
    key_id, _, when = raw.partition("@")
    return key_id, _time(when)


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _int(raw: object) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
