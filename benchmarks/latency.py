"""An AWS-like round trip added to every request: a second moto server whose app sleeps first.

On moto over loopback every call costs only CPU (botocore's signing, moto's handling), so
working on many users at once cannot raise the rate on a small machine. On AWS each call also
waits tens of milliseconds for the network and the service, and that wait is what concurrency
overlaps. :func:`latent_endpoint` serves the same moto backends as the benchmark's own server
(moto keeps them per process), from a second ``ThreadedMotoServer`` whose WSGI app sleeps
``latency_s`` before each request is handled: a delay on the server's side of the wire, one
werkzeug thread per request, ``time.sleep`` (no GIL held), so requests in flight at once wait
out their round trips together, as they would on AWS. The client under test is unchanged; it
is only given this server's endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import ThreadedMotoServer

DEFAULT_MS = 40.0
SECOND_MS = 80.0
"""A second, longer round trip (a function further from us-east-1, slower writes)."""
SECOND_USERS = 250
"""Users of the second row: the recipe waits out every round trip in turn (~0.4 s a user at
80 ms), so the row is smaller to stay cheap; a smaller run only understates keyturn."""


class Delayed:
    """WSGI middleware: sleep ``seconds``, then let ``app`` answer."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(self.seconds)
        return self.app(environ, start_response)


@contextmanager
def latent_endpoint(latency_s: float) -> Iterator[str]:
    """The URL of a moto server (same backends) that adds ``latency_s`` to every request."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        wsgi = server._server  # werkzeug's server: its request handlers call .app
        assert wsgi is not None
        wsgi.app = Delayed(wsgi.app, latency_s)
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
