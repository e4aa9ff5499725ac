"""Fixtures for the deployment tests.

The moto server is the shared ``aws`` fixture (tests/conftest.py: loopback, reset per test,
placeholder credentials); ``cloud`` adds the CloudFormation shims moto needs for keyturn's
stack. Nothing here reaches AWS.
"""

from __future__ import annotations

import pytest

from keyturn.emulator import EmbeddedAws

from . import moto_shims


@pytest.fixture
def cloud(aws: EmbeddedAws) -> EmbeddedAws:
    """The shared moto server, able to create every resource type of keyturn's templates."""
    moto_shims.install()
    return aws
