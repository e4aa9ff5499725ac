"""boto3 sessions for the tests, sharing one botocore model loader.

A new boto3 session reads and parses each service's model again when it makes its first client
(about a third of a second for IAM); sessions sharing one loader make their clients in
milliseconds. The loader holds only botocore's and boto3's service models (read-only data), so
sharing it changes nothing a client does. ``session`` makes such a session for the tests' own
clients; ``shared_loader`` stands in for botocore's ``create_loader`` for the whole run
(tests/conftest.py), so the sessions keyturn itself makes in the tests share it too.
"""

from __future__ import annotations

import functools
import os

import botocore.loaders
import botocore.session
from boto3 import Session


class _SearchPaths(list[str]):
    """A loader's search paths: each boto3 session appends boto3's data path to its loader's;
    on a shared loader the path is kept once."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    """One loader per data path for the whole process: botocore's ``create_loader``, cached,
    its search paths kept once each."""
    paths = _SearchPaths()
    for path in (search_path_string or "").split(os.pathsep):
        if path:
            paths.append(os.path.expanduser(os.path.expandvars(path)))
    return botocore.loaders.Loader(extra_search_paths=paths)


def session(
    access_key_id: str, secret_access_key: str, region: str, session_token: str | None = None
) -> Session:
    """A boto3 session with these credentials, its models from the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", shared_loader())
    return Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        botocore_session=core,
    )
