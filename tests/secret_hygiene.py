"""Issue 6.4: no secret access key in any log record, notification, CLI output or exception.

:class:`SecretScan` records every secret the emulator (moto's IAM backend, in-process or
behind the server) and the in-memory fakes issue, and every SES SMTP password keyturn derives
from one (issue 11.7), and every text keyturn could leak one
through: log records of every logger at DEBUG (botocore's included), SNS messages, EventBridge
events and recorded notifications, ``CliRunner`` outputs, keyturn exception messages, and the test's
captured stdout/stderr. ``tests/conftest.py`` runs it around every test.

The only allowed carrier is the opt-in notification (``KEYTURN_NOTIFY_INCLUDE_SECRET``): a
"rotated" message whose ``SecretAccessKey`` field holds the key; that field is set aside and
the rest of the message is still scanned.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner
from moto.events.models import EventsBackend
from moto.iam.models import IAMBackend
from moto.sns.models import SNSBackend

from keyturn.core import ses_smtp
from keyturn.core.models import SecretValue
from keyturn.errors import KeyturnError
from keyturn.rotation.ports import Notification, NotificationKind
from keyturn.testing import InMemoryIam, RecordingNotifier

OPT_IN_FIELD = "SecretAccessKey"
EMULATOR_LOGGERS = ("moto", "werkzeug")
"""The emulator's own records (its server thread logs the requests it receives, secrets
included, when authentication is enforced): AWS's side of the wire, not keyturn's output."""


@dataclass
class Totals:
    """Figures over the whole session, printed in the summary."""

    tests: int = 0
    secrets: int = 0
    texts: int = 0
    log_records: int = 0
    opt_in_notifications: int = 0
    hits: int = 0


TOTALS = Totals()
SECRET_SCAN = pytest.StashKey["SecretScan"]()
"""Where each test's scan is kept (``request.node.stash``)."""


@dataclass
class SecretScan:
    """One test's issued secrets and everything that could carry one out."""

    issued: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)
    opt_in: int = 0

    def issue(self, secret: str) -> None:
        self.issued.add(secret)

    def seen(self, source: str, text: object) -> None:
        self.texts.append((source, str(text)))

    def notification(self, source: str, subject: str, body: dict[str, Any]) -> None:
        body = dict(body)
        if body.pop(OPT_IN_FIELD, None) is not None:
            self.opt_in += 1
        self.seen(source, f"{subject}\n{json.dumps(body, default=str)}")

    def settle(self) -> list[str]:
        """Add this scan to the session's totals; the hits, if any."""
        hits = self.hits()
        TOTALS.tests += 1
        TOTALS.secrets += len(self.issued)
        TOTALS.texts += len(self.texts)
        TOTALS.opt_in_notifications += self.opt_in
        TOTALS.hits += len(hits)
        return hits

    def hits(self, extra: tuple[tuple[str, str], ...] = ()) -> list[str]:
        """Where a secret appeared: "source: …" lines, never the secret itself."""
        finder = _SecretFinder(self.issued)
        found = []
        for source, text in (*self.texts, *extra):
            if finder.finds(text):
                found.append(f"{source}: {text[:60]!r}…" if len(text) > 60 else source)
        return found


class _SecretFinder:
    """Finds any of many secrets in a text in linear time.

    Every occurrence of a secret lies inside a run of characters from the secrets' alphabet at
    least as long as the shortest secret; only the windows of such runs are looked up.
    """

    def __init__(self, secrets: set[str]) -> None:
        self._secrets = secrets
        self._lengths = sorted({len(s) for s in secrets})
        alphabet = "".join(sorted({c for s in secrets for c in s}))
        shortest = self._lengths[0] if self._lengths else 1
        self._runs = re.compile(f"[{re.escape(alphabet)}]{{{shortest},}}") if secrets else None

    def finds(self, text: str) -> bool:
        if self._runs is None:
            return False
        for run in self._runs.finditer(text):
            word = run.group()
            for length in self._lengths:
                windows = (word[i : i + length] for i in range(len(word) - length + 1))
                if any(w in self._secrets for w in windows):
                    return True
        return False


class _Capture(logging.Handler):
    def __init__(self, scan: SecretScan) -> None:
        super().__init__(logging.DEBUG)
        self._scan = scan
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(EMULATOR_LOGGERS):
            return
        self.count += 1
        text = f"{logging.Formatter().format(record)} {record.__dict__!r}"
        self._scan.seen(f"log record {record.name}", text)


@contextmanager
def scanning(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretScan]:
    """Record issued secrets and possible carriers for the duration of a test."""
    scan = SecretScan()
    _record_issued(monkeypatch, scan)
    _record_carriers(monkeypatch, scan)
    capture = _Capture(scan)
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield scan
    finally:
        root.removeHandler(capture)
        root.setLevel(saved_level)
        TOTALS.log_records += capture.count


def _record_issued(monkeypatch: pytest.MonkeyPatch, scan: SecretScan) -> None:
    moto_create = IAMBackend.create_access_key
    fake_create = InMemoryIam.create_key

    def moto_issue(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        key = moto_create(self, *args, **kwargs)
        scan.issue(key.secret_access_key)
        return key

    def fake_issue(self: InMemoryIam, user_name: str) -> Any:
        new_key = fake_create(self, user_name)
        scan.issue(new_key.secret.reveal())
        return new_key

    derive = ses_smtp.smtp_password

    def derived(secret: SecretValue, region: str) -> SecretValue:
        password = derive(secret, region)
        scan.issue(password.reveal())
        return password

    monkeypatch.setattr(IAMBackend, "create_access_key", moto_issue)
    monkeypatch.setattr(InMemoryIam, "create_key", fake_issue)
    monkeypatch.setattr(ses_smtp, "smtp_password", derived)


def _record_carriers(monkeypatch: pytest.MonkeyPatch, scan: SecretScan) -> None:
    sns_publish = SNSBackend.publish
    put_events = EventsBackend.put_events
    recorded_publish = RecordingNotifier.publish
    invoke = CliRunner.invoke
    error_init = KeyturnError.__init__

    def sns(self: SNSBackend, message: str, *args: Any, **kwargs: Any) -> str:
        event = (kwargs.get("message_attributes") or {}).get("event", {}).get("Value")
        _sns_message(scan, message, kwargs.get("subject") or "", event)
        return sns_publish(self, message, *args, **kwargs)

    def recorded(self: RecordingNotifier, notification: Notification) -> None:
        if notification.kind is NotificationKind.ROTATED:
            scan.notification("notification", notification.subject, notification.body)
        else:
            scan.seen("notification", f"{notification.subject} {notification.body}")
        recorded_publish(self, notification)

    def cli(self: CliRunner, *args: Any, **kwargs: Any) -> Any:
        result = invoke(self, *args, **kwargs)
        scan.seen("CLI output", result.output)
        scan.seen("CLI stderr", _stderr(result))
        return result

    def error(self: KeyturnError, *args: object) -> None:
        error_init(self, *args)
        scan.seen(f"{type(self).__name__} message", " ".join(map(str, args)))

    def bus(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        scan.seen("EventBridge event", json.dumps(events, default=str))  # never opted in
        return put_events(self, events)

    monkeypatch.setattr(SNSBackend, "publish", sns)
    monkeypatch.setattr(EventsBackend, "put_events", bus)
    monkeypatch.setattr(RecordingNotifier, "publish", recorded)
    monkeypatch.setattr(CliRunner, "invoke", cli)
    monkeypatch.setattr(KeyturnError, "__init__", error)


def _sns_message(scan: SecretScan, message: str, subject: str, event: object) -> None:
    try:
        body = json.loads(message)
    except ValueError:
        body = None
    if isinstance(body, dict) and event == NotificationKind.ROTATED.value:
        scan.notification("SNS message", subject, body)
    else:
        scan.seen("SNS message", f"{subject}\n{message}")


def _stderr(result: Any) -> str:
    try:
        return str(result.stderr)
    except ValueError:
        return ""
