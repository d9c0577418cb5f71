"""A local webhook endpoint for the alerting tests (shared helper, no tests of its own):
records each POST and challenges for basic auth like a real receiver."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    authorization: str | None
    body: dict[str, Any]


@dataclass
class Receiver:
    """What the endpoint got; ``credentials`` set means basic auth is required."""

    url: str = ""
    credentials: tuple[str, str] | None = None
    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    challenges: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        """The POSTs that were answered 2xx (payloads delivered)."""
        with self.lock:
            return [r for r in self.requests if r.path != "rejected"]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            auth = self.headers.get("Authorization")
            with receiver.lock:
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if receiver.credentials is not None:
                    expected = (
                        "Basic "
                        + base64.b64encode(":".join(receiver.credentials).encode()).decode()
                    )
                    if auth is None:
                        receiver.challenges += 1
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="alerts"')
                        self.end_headers()
                        return
                    if auth != expected:
                        receiver.requests.append(Received("rejected", auth, body))
                        self.send_response(403)
                        self.end_headers()
                        return
                receiver.requests.append(Received(self.path, auth, body))
            self.send_response(200)
            self.end_headers()

    return Handler


@contextmanager
def webhook_receiver(credentials: tuple[str, str] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(credentials=credentials)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
