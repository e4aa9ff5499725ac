"""Staging, proving and promoting a key: the path every key takes to AWSCURRENT.

1. **Stage**: the key is stored as an AWSPENDING version (durable before anything else), under a
   deterministic token so concurrent runs compare-and-set
   (see :func:`keyturn.core.codec.delivery_token`).
2. **Prove**: ``sts:GetCallerIdentity`` signed with the key, as
   :mod:`keyturn.core.verification` demands. Only a proved key is promoted.
3. **Promote**: AWSCURRENT moves to the staged version; then one TagResource records the proof
   (``keyturn:verified``), the version's mirror and the in-grace mark, and empties the
   in-flight mark.

A new key that fails the proof is deactivated, deleted and unstaged; the old key is not touched. A
crash between steps leaves an in-flight mark and a key the AWSCURRENT version does not name: the
planner removes it as undelivered (and :meth:`Promoter.discard` unstages its version).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from keyturn.core.codec import delivery_token
from keyturn.core.delivery import PENDING, Delivery, Marks, SecretRef, StoredKey
from keyturn.core.models import KeyStatus, StoredState, mask_key_id
from keyturn.core.verification import Verification
from keyturn.errors import AwsError, ConcurrentDeliveryError, VerificationError
from keyturn.rotation.ports import KeyStore, Secrets
from keyturn.rotation.proof import Prover

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Abandoned versions of one generation skipped before giving up."""


@dataclass
class Promoter:
    """Moves keys through AWSPENDING to AWSCURRENT, only once they authenticate.

    Without a prover (in-memory simulations), keys are recorded as verified without probing;
    :func:`keyturn.wiring.build_rotator` always supplies one.
    """

    keys: KeyStore
    secrets: Secrets
    prover: Prover | None = None

    def stage_next(self, delivery: Delivery, state: StoredState | None) -> Delivery:
        """Stage ``delivery`` under the generation's token, skipping abandoned attempts.

        Raises:
            ConcurrentDeliveryError: another run staged a different key for this generation.
            AwsError: the store failed (the version may or may not have landed).
        """
        user = delivery.key.user_name
        for attempt in range(MAX_ATTEMPTS):
            staged = replace(delivery, token=delivery_token(user, state, attempt))
            try:
                self.secrets.stage(staged)
            except ConcurrentDeliveryError:
                existing = self.secrets.version(user, staged.token)
                if existing is None or existing.stages:
                    raise
                continue
            return staged
        raise ConcurrentDeliveryError("PutSecretValue", "TooManyAttempts", "abandoned versions")

    def landed(self, delivery: Delivery) -> bool:
        """True if a stage that reported failure stored this key after all."""
        try:
            found = self.secrets.version(delivery.key.user_name, delivery.token)
        except AwsError:
            return False
        return found is not None and found.key.key_id == delivery.key.key_id

    def prove(self, user_name: str, key: StoredKey) -> Verification | None:
        """Probe the key; None when no prover is configured."""
        return self.prover.prove(key, user_name) if self.prover else None

    def verify(self, user_name: str, key: StoredKey, now: datetime) -> None:
        """Prove the key and record the proof (``now`` is its time when there is no prover).

        Raises:
            VerificationError: the key never authenticated; the caller removes or reverts it.
        """
        self.secrets.set_marks(user_name, self.proof(user_name, key, now))

    def proof(self, user_name: str, key: StoredKey, now: datetime) -> Marks:
        """Prove the key; the proof's mark, for the caller to write with the promotion.

        Raises:
            VerificationError: the key never authenticated; the caller removes or reverts it.
        """
        outcome = self.prove(user_name, key)
        if outcome is not None and not outcome.verified:
            raise VerificationError(user_name, mask_key_id(key.key_id), outcome.describe())
        if outcome is not None:
            log.info("key %s %s", mask_key_id(key.key_id), outcome.describe())
        when = outcome.finished if outcome else now
        return Marks(verified=(key.key_id, when))

    def promote(self, user_name: str, version_id: str, marks: Marks | None = None) -> SecretRef:
        """Make the staged version AWSCURRENT, then write ``marks`` with the version's mirror
        and the emptied in-flight mark (one TagResource)."""
        return self.secrets.promote(user_name, version_id, marks)

    def discard(self, user_name: str, key_id: str, version_id: str | None) -> None:
        """Remove a key nobody may hold: deactivate, delete, unstage, clear the mark."""
        self.keys.set_key_status(user_name, key_id, KeyStatus.INACTIVE)
        self.keys.delete_key(user_name, key_id)
        if version_id is not None:
            self.secrets.unstage(user_name, version_id)
        self.secrets.set_marks(user_name, Marks(clear_pending=True))

    def discard_stage(self, user_name: str, key_id: str) -> None:
        """Unstage the AWSPENDING version if it holds ``key_id`` (an abandoned rotation), so
        Secrets Manager's own rotation is not blocked by it."""
        pending = self.secrets.labelled(user_name, PENDING)
        if pending is not None and pending.key.key_id == key_id:
            self.secrets.unstage(user_name, pending.version_id)
