"""A webhook on 127.0.0.1 for the alert's tests: records every request, answers by path.

``/fail...`` answers 500, ``/redirect...`` a 302 to ``/hook``, anything else 204.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the webhook saw it."""

    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class Webhook:
    """The running server: its port and what it received, in order."""

    port: int
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def webhook_server() -> Iterator[Webhook]:
    """A server in a thread for the ``with`` block; shut down and joined after it."""
    hook = Webhook(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            hook.received.append(Received("POST", self.path, self.headers.get("Content-Type", ""), body))
            if self.path.startswith("/fail"):
                self.send_response(500)
            elif self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/hook")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
