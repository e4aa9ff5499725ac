"""Where moto differs from AWS in ways keyturn depends on, patched in the open.

moto's server runs in this process (``ThreadedMotoServer``), so its backends can be patched.
Each patch makes moto answer as AWS does; :func:`patched` applies them for a ``with`` block.

1. **Inactive keys authenticate.** AWS rejects a request signed with an inactive access key
   (``InvalidClientTokenId``); stock moto accepts it. Only visible with authentication enforced
   (``/moto-api/reset-auth``).
2. **UpdateSecretVersionStage does not move the default version.** Moving AWSCURRENT leaves
   moto's internal default pointing at the old version, so a later PutSecretValue to AWSCURRENT
   labels two versions AWSCURRENT and a read without a stage returns the old value.
3. **An AWSPENDING version can be overwritten.** AWS rejects PutSecretValue with an existing
   ClientRequestToken and a different value (``ResourceExistsException``), except on the
   value-less version RotateSecret creates; moto overwrites any AWSPENDING version.
4. **Security Hub has no BatchUpdateFindings.** moto (5.2) implements BatchImportFindings and
   GetFindings only; the patch adds ``PATCH /findings/batchupdate`` setting ``Workflow`` (and
   ``Note``) on the findings named, answering ``UnprocessedFindings`` for unknown ones as AWS
   does. Not patched: moto's GetFindings ignores ``Filters``; keyturn's adapter checks every
   finding it reads again (product, generator, account, Id prefix), so it needs no patch.
5. **Secrets Manager's writes are not atomic.** moto's server answers requests on many
   threads, and its Secrets Manager backend checks and changes plain dicts and lists: two
   PutSecretValue calls with one ClientRequestToken can both pass the check of patch 3 (AWS's
   compare-and-set lets only one in), and a secret created meanwhile breaks another request's
   lookup (``dictionary changed size during iteration``). A concurrent run makes such requests
   at once, so the backend's changes take one lock, as one AWS request is atomic.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.iam import access_control
from moto.iam.models import iam_backends
from moto.secretsmanager import models as sm_models
from moto.secretsmanager.exceptions import ResourceExistsException
from moto.securityhub import urls as securityhub_urls
from moto.securityhub.models import securityhub_backends
from moto.securityhub.responses import SecurityHubResponse

CURRENT = "AWSCURRENT"
BATCH_UPDATE_PATH = "{0}/findings/batchupdate$"
_SECRETS_LOCK = threading.RLock()
ATOMIC_SECRETS_METHODS = (
    "create_secret",
    "put_secret_value",
    "update_secret_version_stage",
    "tag_resource",
    "untag_resource",
    "put_resource_policy",
    "delete_secret",
    "describe_secret",
    "get_secret_value",
    "list_secrets",
)
"""The backend methods keyturn's calls reach, each run under one lock (patch 5)."""


def _atomic(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def under_lock(*args: Any, **kwargs: Any) -> Any:
        with _SECRETS_LOCK:
            return original(*args, **kwargs)

    return under_lock


def _reject_inactive(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_access_key(
        account_id: str, partition: str, access_key_id: str, headers: dict[str, str]
    ) -> Any:
        found = original(account_id, partition, access_key_id, headers)
        for user in iam_backends[account_id][partition].users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status != "Active":
                    raise access_control.CreateAccessKeyFailure(reason="InvalidId")
        return found

    return create_access_key


def _move_default(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> Any:
        result = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == CURRENT and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return result

    return update_secret_version_stage


def _keep_values(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_secret_value(
        self: Any,
        secret_id: str,
        secret_string: str,
        secret_binary: str,
        client_request_token: str,
        version_stages: list[str],
    ) -> Any:
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        version = secret.versions.get(client_request_token) if secret is not None else None
        stored = version.get("secret_string") if version is not None else None
        if stored is not None and stored != secret_string:
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {client_request_token} because that "
                "value is already in use for a version of this secret."
            )
        return original(
            self, secret_id, secret_string, secret_binary, client_request_token, version_stages
        )

    return put_secret_value


def batch_update_findings(self: Any) -> str:
    """Security Hub's BatchUpdateFindings on moto's stored findings (Workflow and Note)."""
    params = json.loads(self.body) if self.body else {}
    backend = securityhub_backends[self.current_account][self.region]
    stored = {f.id: f for f in backend.findings}
    processed, unprocessed = [], []
    for ident in params.get("FindingIdentifiers", []):
        finding = stored.get(ident.get("Id"))
        if finding is None or finding.data.get("ProductArn") != ident.get("ProductArn"):
            unprocessed.append(
                {"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": ""}
            )
            continue
        for name in ("Workflow", "Note", "Severity"):
            if name in params:
                finding.data[name] = params[name]
        processed.append(ident)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


@contextmanager
def patched() -> Iterator[None]:
    """Apply every patch for the block; restore moto afterwards."""
    backend = sm_models.SecretsManagerBackend
    saved = (
        access_control.create_access_key,
        backend.update_secret_version_stage,
        backend.put_secret_value,
    )
    access_control.create_access_key = _reject_inactive(saved[0])
    backend.update_secret_version_stage = _move_default(saved[1])  # type: ignore[method-assign]
    backend.put_secret_value = _keep_values(saved[2])  # type: ignore[method-assign]
    # Blocks nest (the session's emulator, a test's own block): restore what was there.
    had_route = BATCH_UPDATE_PATH in securityhub_urls.url_paths
    had_handler = hasattr(SecurityHubResponse, "batch_update_findings")
    securityhub_urls.url_paths[BATCH_UPDATE_PATH] = SecurityHubResponse.dispatch
    SecurityHubResponse.batch_update_findings = batch_update_findings  # type: ignore[attr-defined]
    unlocked = {name: getattr(backend, name) for name in ATOMIC_SECRETS_METHODS}
    for name, method in unlocked.items():
        setattr(backend, name, _atomic(method))
    try:
        yield
    finally:
        for name, method in unlocked.items():
            setattr(backend, name, method)
        if not had_route:
            securityhub_urls.url_paths.pop(BATCH_UPDATE_PATH, None)
        if not had_handler:
            del SecurityHubResponse.batch_update_findings  # type: ignore[attr-defined]
        access_control.create_access_key = saved[0]
        backend.update_secret_version_stage = saved[1]  # type: ignore[method-assign]
        backend.put_secret_value = saved[2]  # type: ignore[method-assign]
