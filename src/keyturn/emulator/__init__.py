"""An embedded AWS emulator: moto server on 127.0.0.1, on a free port, in a background thread.

Real HTTP, real SigV4 signing, real error codes; no AWS account and no network. The few
inspection helpers reach into moto's in-process backends, which real AWS does not allow:
they exist for the demo and the tests only (backdating a key, reading sent notifications).
While the emulator runs, :mod:`keyturn.emulator.fidelity` patches the few places where moto
answers differently from AWS (inactive keys, staging labels).
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any

import boto3
from moto.iam.models import iam_backends
from moto.server import ThreadedMotoServer
from moto.sns.models import sns_backends

from keyturn.emulator import fidelity

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET = "testing"
ACCOUNT_ID = "123456789012"


@dataclass
class SentMessage:
    subject: str
    message: str


@dataclass
class EmbeddedAws:
    """A moto server for the lifetime of a ``with`` block."""

    region: str = "us-east-1"
    url: str = ""
    _server: Any = field(default=None, repr=False)
    _patches: ExitStack = field(default_factory=ExitStack, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __enter__(self) -> EmbeddedAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._patches.enter_context(fidelity.patched())
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._patches.close()

    def enforce_auth(self, *, enforced: bool = True) -> None:
        """Make the emulator check every request's signature and IAM policies, as AWS does
        (moto's ``/moto-api/reset-auth``); ``enforced=False`` switches checking off again."""
        self._post("/moto-api/reset-auth", b"0" if enforced else b"inf")

    def reset(self) -> None:
        """Forget every resource (moto's ``/moto-api/reset``)."""
        self._post("/moto-api/reset", b"")

    def _post(self, path: str, body: bytes) -> None:
        if not self.url.startswith("http://127.0.0.1:"):
            raise ValueError("the emulator only listens on loopback")
        request = urllib.request.Request(  # noqa: S310 - checked loopback URL
            f"{self.url}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - checked loopback URL
            pass

    def session(self) -> boto3.Session:
        """A boto3 session with the emulator's placeholder credentials."""
        return boto3.Session(
            aws_access_key_id=FAKE_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_SECRET,
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        """A client of the emulator, made once per service (boto3 clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                session = self.session()
                self._clients[service] = session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.url
                )
            return self._clients[service]

    def backdate_key(self, user_name: str, key_id: str, days: float) -> None:
        """Make a key look ``days`` older (the emulator stamps keys with the real time)."""
        user = iam_backends[ACCOUNT_ID]["global"].users[user_name]
        for key in user.access_keys:
            if key.access_key_id == key_id:
                key.create_date = key.create_date - timedelta(days=days)

    def sent_notifications(self, topic_arn: str) -> list[SentMessage]:
        """What SNS delivered to the topic's subscribers, oldest first."""
        topic = sns_backends[ACCOUNT_ID][self.region].topics[topic_arn]
        return [
            SentMessage(subject or "", message)
            for _, message, subject, *_ in topic.sent_notifications
        ]
