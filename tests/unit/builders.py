"""Builders for the pure core's inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyturn.core import AccessKey, KeyStatus, StoredState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def key(key_id: str, age_days: float, *, active: bool = True) -> AccessKey:
    status = KeyStatus.ACTIVE if active else KeyStatus.INACTIVE
    return AccessKey(key_id, status, days_ago(age_days))


def stored(
    current: str | None,
    *,
    stored_days_ago: float = 0,
    previous: str | None = None,
    grace: int = 7,
    delete_after: int = 7,
    **marks: object,
) -> StoredState:
    return StoredState(
        current_key_id=current,
        stored_at=days_ago(stored_days_ago) if current else None,
        previous_key_id=previous,
        grace_days=grace,
        delete_after_days=delete_after,
        **marks,  # type: ignore[arg-type]
    )
