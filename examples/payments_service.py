"""A local stand-in for a third-party payments API, for the example DAGs and the tests.

``POST /v1/charges`` answers 201; ``/v1/charges?fail=1`` answers 503 (the provider is down);
``/v1/slow?seconds=S`` answers after S seconds (so a caller's timeout fires). Every request is
counted, so tests can check what the DAGs really called.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A caller that timed out hangs up before the slow answer: expected, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class PaymentsService:
    """Runs the stand-in on 127.0.0.1 in a thread; ``url`` is where DAGs reach it."""

    def __init__(self, port: int = 0) -> None:
        self.requests: Counter[str] = Counter()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                service.requests[parts.path] += 1
                if parts.path == "/v1/slow":
                    time.sleep(float(query.get("seconds", ["2"])[0]))
                status = 503 if query.get("fail") else 201
                body = json.dumps({"ok": status < 400}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the demo prints its own story."""

        self._server = _QuietServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> PaymentsService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
