"""Slow clients cannot starve the router: request heads must arrive within the header
timeout, and probes answer while hundreds of connections hold partial headers."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import httpx
import pytest

from observability.standins import StandIn
from tests.router.harness import webhook_only_config

pytestmark = pytest.mark.integration

SLOW_CLIENTS = 300


def test_partial_headers_are_dropped_after_the_header_timeout_and_probes_answer(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    config = webhook_only_config(fakes["webhook"].url)
    router = router_factory(config, extra_env={"COMPOSER_OBS_ROUTER_HEADER_TIMEOUT": "2"})
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            client = socket.create_connection(("127.0.0.1", router.port), timeout=5)
            client.sendall(b"POST /v1/webhooks/cloud-monitoring HTTP/1.1\r\nHost: r\r\nX-a: ")
            slow.append(client)
        started = time.monotonic()
        for probe in ("/healthz", "/readyz"):
            assert httpx.get(f"{router.url}{probe}", timeout=5).status_code == 200
        assert time.monotonic() - started < 2  # answered at once, not after the slow ones
        time.sleep(3)
        for client in slow:  # each was closed by the router: end of stream, or reset
            client.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(100) == b""
        assert httpx.get(f"{router.url}/healthz", timeout=5).status_code == 200
    finally:
        for client in slow:
            client.close()
