"""Integration fixtures for keyturn's verification and consumer features.

``authed`` turns on moto's authentication (``/moto-api/reset-auth``) for one test, as AWS
always has it: every request must be signed by an existing, *active* key with a policy that
allows it. Stock moto accepts inactive keys; ``keyturn.emulator.fidelity`` (applied by the
emulator) makes them fail with ``InvalidClientTokenId`` as in AWS. moto does not evaluate a
secret's resource policy, so the rotated user gets an identity policy to read secrets instead
(in AWS, keyturn's resource policy on ``keyturn/<user>`` is what grants it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyturn.emulator import EmbeddedAws
from tests.integration.authed_aws import Authed, authenticated


@pytest.fixture
def authed(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Authed]:
    """Authentication enforced for this test; the environment holds the admin's key."""
    with authenticated(aws, monkeypatch) as enforced:
        yield enforced
