"""How stored state is written into a secret: the version's JSON document and the secret's tags.

Shared by the Secrets Manager adapter and the in-memory fake, so both read and write the same
shapes. Pure: no AWS, no clock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyturn.core import ses_smtp
from keyturn.core.delivery import Delivery, Marks, StoredKey
from keyturn.core.models import SecretValue, StoredState
from keyturn.core.policy import MAX_DAYS
from keyturn.errors import ConfigurationError

TAG_MANAGED_BY = "keyturn:managed-by"
TAG_USER = "keyturn:user"
TAG_PENDING_SINCE = "keyturn:pending-since"
"""The in-flight mark, ``since:TIME@KEY_ID,KEY_ID`` (the keys before the creation): set before
``CreateAccessKey`` (in ``CreateSecret``'s tags on a user's first rotation), emptied (value
``""``: no rotation in flight) once the key is delivered, in the promotion's TagResource when
no stage has to move. The scheduled run's in-flight index lists only values starting
``since:`` (a prefix no other keyturn tag value can have: IAM names hold no colon). An older
keyturn's ``TIME@KEY_ID,...`` or bare ``TIME`` is read too, but not listed."""
PENDING_PREFIX = "since:"
TAG_DEACTIVATED = "keyturn:deactivated"
"""``told:KEY_ID@TIME``: keyturn deactivated that key, or saw it inactive, at TIME, and its
``deactivated`` notice (naming the run of its deletion) went out first. A bare
``KEY_ID@TIME`` (an older keyturn, which did not always tell) is read too: that key's
deletion is mailed."""
TOLD_PREFIX = "told:"
TAG_WARNED = "keyturn:warned"
TAG_VERIFIED = "keyturn:verified"
TAG_POSTPONED = "keyturn:postponed"
TAG_IN_GRACE = "keyturn:in-grace"
"""``grace:KEY_ID``: the previous key a rotation left active; written with the proof's marks,
emptied (value ``""``: no key in grace) in the TagResource that records its deactivation, so
that the deactivation costs one tag call. The hourly retirement pass lists only the secrets
with a tag value starting ``grace:`` (a prefix no other keyturn tag value can have: IAM names
hold no colon), never the emptied ones. A bare ``KEY_ID`` (an older keyturn) is read too."""
IN_GRACE_PREFIX = "grace:"
TAG_SWITCH_DAYS = "keyturn:switch-days"
"""``KEY_ID@3.38,4.38,3.38``: the consumer's last switch delays in days, newest last, the
newest measured for KEY_ID."""
MAX_SWITCH_RECORDS = 3
SWITCH_DAYS = re.compile(r"[0-9]{1,4}(\.[0-9]{1,2})?", re.ASCII)
TAG_RESTORED = "keyturn:restored"
TAG_CURRENT = "keyturn:current"
"""The non-secret fields of the AWSCURRENT document, mirrored so that metadata readers (the
auditor's ``scan``/``plan``/``report``) need no secret value:
``VERSION/AccessKeyId/StoredAt/PreviousAccessKeyId/GraceDays/DeleteAfterDays`` (empty fields
for absent values). Written in the TagResource of the promotion; fresh only while VERSION is
the one ``VersionIdsToStages`` labels AWSCURRENT."""
VERSION_ID = re.compile(r"[A-Za-z0-9-]{32,64}", re.ASCII)
MIRROR_FIELDS = 6
MAX_TAG_VALUE = 256
TAG_ROTATION_FAILED = "keyturn:rotation-failed"
"""When a run's rotation of the user last failed: the user waits behind the others next time
(:mod:`keyturn.core.urgency`). Read leniently: it orders, it never decides."""
META = "Keyturn"
KEY_ID = re.compile(r"[A-Z0-9]{16,128}", re.ASCII)
"""IAM's access key id alphabet (AKIA..., ASIA...)."""
MAX_KEYS = 2
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_TOKEN_NAMESPACE = uuid.UUID("6f4f2a4e-6b65-7974-7572-6e2d6b657973")


def document(delivery: Delivery) -> dict[str, Any]:
    """The SecretString JSON: the standard fields consumers read, the SES SMTP credentials
    when the delivery names a region, plus keyturn's own record."""
    key = delivery.key
    smtp: dict[str, str] = {}
    if delivery.ses_smtp_region is not None:
        password = ses_smtp.smtp_password(key.secret, delivery.ses_smtp_region)
        smtp = {
            "SmtpUsername": key.key_id,
            "SmtpPassword": password.reveal(),
            "SmtpRegion": delivery.ses_smtp_region,
        }
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.key_id,
        "SecretAccessKey": key.secret.reveal(),
        "CreateDate": key.created.isoformat(),
        **smtp,
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
    """Stored state from the AWSCURRENT document (None if no version) and the secret's tags.

    Everything is parsed strictly, because whoever may tag the secret could write anything
    there: ASCII key ids, timezone-aware ISO times, day counts within keyturn's bounds.

    Raises:
        ConfigurationError: a tag or a field holds a value keyturn cannot use; the message
            names it (never a secret).
    """
    told = tags.get(TAG_DEACTIVATED, "").startswith(TOLD_PREFIX)
    deactivated_key, deactivated_at = _split_stamp(tags, TAG_DEACTIVATED, prefix=TOLD_PREFIX)
    verified_key, verified_at = _split_stamp(tags, TAG_VERIFIED)
    postponed_key, postponed_at = _split_stamp(tags, TAG_POSTPONED)
    restored_key, restored_at = _split_stamp(tags, TAG_RESTORED)
    pending, keys_before = _pending(tags.get(TAG_PENDING_SINCE))
    switch_key, switch_days = _switch_days(tags.get(TAG_SWITCH_DAYS))
    failed = _aware(_lenient_time(tags.get(TAG_ROTATION_FAILED)))
    if doc is None and pending is None and deactivated_key is None and failed is None:
        return None
    meta: Mapping[str, Any] = (doc or {}).get(META) or {}
    if not isinstance(meta, Mapping):
        raise ConfigurationError(f"the secret's {META} record is not an object")
    return StoredState(
        current_key_id=_key_id((doc or {}).get("AccessKeyId"), "AccessKeyId"),
        stored_at=_time(meta.get("StoredAt"), f"{META}.StoredAt"),
        previous_key_id=_key_id(meta.get("PreviousAccessKeyId"), f"{META}.PreviousAccessKeyId"),
        grace_days=_days(meta.get("GraceDays"), f"{META}.GraceDays"),
        delete_after_days=_days(meta.get("DeleteAfterDays"), f"{META}.DeleteAfterDays"),
        pending_since=pending,
        keys_before=keys_before,
        deactivated_key_id=deactivated_key,
        deactivated_at=deactivated_at,
        deactivation_told=told and deactivated_key is not None,
        warned_key_id=_key_id(tags.get(TAG_WARNED) or None, f"tag {TAG_WARNED}"),
        verified_key_id=verified_key,
        verified_at=verified_at,
        postponed_key_id=postponed_key,
        postponed_at=postponed_at,
        in_grace_key_id=_in_grace(tags.get(TAG_IN_GRACE)),
        switch_key_id=switch_key,
        switch_days=switch_days,
        restored_key_id=restored_key,
        restored_at=restored_at,
        rotation_failed_at=failed,
    )


@dataclass(frozen=True)
class Mirror:
    """The ``keyturn:current`` tag, parsed: which version it describes and what it says."""

    version_id: str
    document: dict[str, Any]
    """The document's non-secret fields, shaped as :func:`state_from` reads them."""


def mirror_tag(version_id: str, doc: Mapping[str, Any]) -> str | None:
    """The ``keyturn:current`` value for version ``version_id`` holding ``doc``; None when the
    document is not one keyturn wrote (nothing to mirror)."""
    meta = doc.get(META)
    key_id = doc.get("AccessKeyId")
    if not isinstance(meta, Mapping) or not isinstance(key_id, str):
        return None
    fields = [
        version_id,
        key_id,
        meta.get("StoredAt") or "",
        meta.get("PreviousAccessKeyId") or "",
        "" if meta.get("GraceDays") is None else str(meta.get("GraceDays")),
        "" if meta.get("DeleteAfterDays") is None else str(meta.get("DeleteAfterDays")),
    ]
    if not all(isinstance(f, str) for f in fields):
        return None
    value = "/".join(fields)
    return value if len(value) <= MAX_TAG_VALUE else None


def parse_mirror(raw: str | None) -> Mirror | None:
    """The ``keyturn:current`` tag, parsed strictly (whoever may tag the secret could write
    anything there); None when there is none.

    Raises:
        ConfigurationError: the tag is malformed; the message says how (never a secret).
    """
    if raw is None or raw == "":
        return None
    where = f"tag {TAG_CURRENT}"
    parts = raw.split("/") if len(raw) <= MAX_TAG_VALUE else []
    if len(parts) != MIRROR_FIELDS or not VERSION_ID.fullmatch(parts[0]):
        raise ConfigurationError(
            f"{where} must be VERSION/KEY_ID/TIME/KEY_ID/DAYS/DAYS, not {_shown(raw)}"
        )
    version, key_id, stored, previous, grace, delete = parts
    _key_id(key_id, where)
    _time(stored or None, where)
    _key_id(previous or None, where)
    meta = {
        "StoredAt": stored or None,
        "PreviousAccessKeyId": previous or None,
        "GraceDays": _day_field(grace, where),
        "DeleteAfterDays": _day_field(delete, where),
    }
    return Mirror(version, {"AccessKeyId": key_id, META: meta})


def _day_field(raw: str, where: str) -> int | None:
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_DAYS)):
        raise ConfigurationError(f"{where} holds a day count that is not a whole number")
    return _days(int(raw), where)


def stored_key(doc: Mapping[str, Any]) -> StoredKey:
    """The key and secret in a version's document."""
    return StoredKey(
        key_id=str(doc["AccessKeyId"]),
        secret=SecretValue(str(doc["SecretAccessKey"])),
        created=_lenient_time(doc.get("CreateDate")) or EPOCH,
    )


def mark_tags(marks: Marks) -> dict[str, str]:
    """The tags to set for ``marks``. Every clear empties its tag (an empty value means
    "none") rather than removing it, so that it rides in the same TagResource as the other
    marks and keyturn's role needs no ``UntagResource``."""
    to_set: dict[str, str] = {}
    if marks.pending_since is not None:
        to_set[TAG_PENDING_SINCE] = in_flight_value(marks.pending_since, marks.keys_before)
    if marks.clear_pending:
        to_set[TAG_PENDING_SINCE] = ""  # emptied, not removed: rides along in one TagResource
    if marks.deactivated is not None:
        key_id, when = marks.deactivated
        to_set[TAG_DEACTIVATED] = f"{TOLD_PREFIX}{key_id}@{when.isoformat()}"
    stamps = (
        (TAG_VERIFIED, marks.verified),
        (TAG_POSTPONED, marks.postponed),
        (TAG_RESTORED, marks.restored),
    )
    for tag, stamp in stamps:
        if stamp is not None:
            key_id, when = stamp
            to_set[tag] = f"{key_id}@{when.isoformat()}"
    failed_at = marks.rotation_failed_at
    in_grace = f"{IN_GRACE_PREFIX}{marks.in_grace}" if marks.in_grace is not None else None
    plain = (
        (TAG_WARNED, marks.warned_key_id),
        (TAG_IN_GRACE, in_grace),
        (TAG_CURRENT, marks.mirror),
        (TAG_ROTATION_FAILED, failed_at.isoformat() if failed_at is not None else None),
    )
    to_set.update({tag: value for tag, value in plain if value is not None})
    if marks.clear_in_grace:
        to_set[TAG_IN_GRACE] = ""  # emptied, not removed: rides along in the same TagResource
    if marks.switch is not None:
        key_id, days = marks.switch
        recent = days[-MAX_SWITCH_RECORDS:]
        to_set[TAG_SWITCH_DAYS] = f"{key_id}@" + ",".join(f"{d:.2f}" for d in recent)
    return to_set


def in_flight_value(since: datetime, keys_before: Sequence[str]) -> str:
    """The ``keyturn:pending-since`` value for a creation started at ``since``, the user then
    holding ``keys_before``."""
    return f"{PENDING_PREFIX}{since.isoformat()}@{','.join(keys_before)}"


def previous_key_id(doc: Mapping[str, Any]) -> str | None:
    """The key a version's key replaced, from keyturn's record in the document."""
    meta: Mapping[str, Any] = doc.get(META) or {}
    value = meta.get("PreviousAccessKeyId")
    return value if isinstance(value, str) else None


def _pending(raw: str | None) -> tuple[datetime | None, frozenset[str] | None]:
    """The in-flight mark: ``since:TIME@ID,ID`` (the keys before the creation), or an older
    keyturn's ``TIME@ID,ID``; a bare ``TIME`` (older still) has no record of them. Empty or
    absent: no rotation in flight."""
    if raw is None or raw == "":
        return None, None
    when, sep, ids = raw.removeprefix(PENDING_PREFIX).partition("@")
    moment = _time(when, f"tag {TAG_PENDING_SINCE}")
    if not sep:
        return moment, None
    before = [i for i in ids.split(",") if i]
    if len(before) > MAX_KEYS:
        raise ConfigurationError(f"tag {TAG_PENDING_SINCE} records more than {MAX_KEYS} keys")
    return moment, frozenset(_key_id(i, f"tag {TAG_PENDING_SINCE}") or "" for i in before)


def pending_listed(raw: str | None) -> bool:
    """True if a ``keyturn:pending-since`` value is one the in-flight index's listing matches
    (this keyturn's format, not emptied)."""
    return raw is not None and raw.startswith(PENDING_PREFIX) and len(raw) > len(PENDING_PREFIX)


def _in_grace(raw: str | None) -> str | None:
    """``grace:KEY_ID`` (or an older keyturn's bare ``KEY_ID``); empty or absent: none."""
    if raw is None or raw == "":
        return None
    return _key_id(raw.removeprefix(IN_GRACE_PREFIX), f"tag {TAG_IN_GRACE}")


def in_grace_listed(raw: str | None) -> bool:
    """True if a ``keyturn:in-grace`` value is one the retirement pass's listing matches."""
    return raw is not None and raw.startswith(IN_GRACE_PREFIX) and len(raw) > len(IN_GRACE_PREFIX)


def _switch_days(raw: str | None) -> tuple[str | None, tuple[float, ...]]:
    """``KEY_ID@DAYS,DAYS``: up to three decimals of at most two places, within keyturn's
    bounds; anything else is refused, since whoever may tag the secret could write it."""
    if raw is None or raw == "":
        return None, ()
    key_id, sep, listed = raw.partition("@")
    items = listed.split(",")
    if (
        not sep
        or len(items) > MAX_SWITCH_RECORDS
        or not all(SWITCH_DAYS.fullmatch(i) for i in items)
    ):
        raise ConfigurationError(
            f"tag {TAG_SWITCH_DAYS} must be KEY_ID@DAYS[,DAYS,DAYS], not {_shown(raw)}"
        )
    days = tuple(float(i) for i in items)
    if any(d > MAX_DAYS for d in days):
        raise ConfigurationError(f"tag {TAG_SWITCH_DAYS} holds more than {MAX_DAYS} days")
    return _key_id(key_id, f"tag {TAG_SWITCH_DAYS}"), days


def _split_stamp(
    tags: Mapping[str, str], tag: str, *, prefix: str = ""
) -> tuple[str | None, datetime | None]:
    raw = tags.get(tag)
    if raw is None or raw == "":
        return None, None
    key_id, sep, when = raw.removeprefix(prefix).partition("@") if prefix else raw.partition("@")
    if not sep:
        raise ConfigurationError(f"tag {tag} must be KEY_ID@TIME, not {_shown(raw)}")
    return _key_id(key_id, f"tag {tag}"), _time(when, f"tag {tag}")


def _key_id(raw: object, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not KEY_ID.fullmatch(raw):
        raise ConfigurationError(f"{where} is not an access key id: {_shown(raw)}")
    return raw


def _time(raw: object, where: str) -> datetime | None:
    """A timezone-aware ISO 8601 time; a naive or unreadable one is refused."""
    if raw is None:
        return None
    moment = _lenient_time(raw)
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigurationError(f"{where} is not a timezone-aware ISO time: {_shown(raw)}")
    return moment


def _aware(moment: datetime | None) -> datetime | None:
    """``moment`` if it is timezone-aware, else None."""
    return moment if moment is not None and moment.utcoffset() is not None else None


def _lenient_time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw or not raw.isascii() or len(raw) > 40:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _days(raw: object, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_DAYS:
        raise ConfigurationError(f"{where} must be a whole number from 0 to {MAX_DAYS}")
    return raw


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."
