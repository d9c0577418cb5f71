"""One log record is one line: what a request quotes cannot forge another or make it binary."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from examples.waiting import wait_for
from observability.router.log_lines import TRACEBACK_PREFIX, OneLineFormatter
from observability.standins import StandIn
from tests.router.harness import webhook_only_config

FORGED = "2030-01-01 00:00:00,000 ERROR observability.router: forged"


def test_control_characters_are_escaped_and_tracebacks_prefixed() -> None:
    formatter = OneLineFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError(f"label\n{FORGED}")
    except ValueError as exc:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "path %s", (f"/a\n{FORGED}\r\x00\u2028",), None
        )
        record.exc_info = (type(exc), exc, exc.__traceback__)
    text = formatter.format(record)
    lines = text.split("\n")
    assert lines[0] == f"ERROR path /a\\n{FORGED}\\r\\x00\\u2028"
    assert all(line.startswith(TRACEBACK_PREFIX) for line in lines[1:])
    assert f"{TRACEBACK_PREFIX}{FORGED}" in lines  # the message's own line, marked


@pytest.mark.integration
def test_a_request_path_with_newlines_and_nul_writes_one_escaped_line(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    config = webhook_only_config(fakes["webhook"].url)
    router = router_factory(config)
    with socket.create_connection(("127.0.0.1", router.port), timeout=5) as raw:
        target = "/nothing%0a" + FORGED.replace(" ", "%20") + "%00%0d"
        raw.sendall(f"GET {target} HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 404")
    wait_for(lambda: "/nothing" in router.log(), message="the access log line")
    log = router.log_path.read_bytes()
    assert b"\x00" not in log and b"\r" not in log
    lines = log.decode().splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    [line] = [line for line in lines if "/nothing" in line]
    assert f"/nothing\\n{FORGED}\\x00\\r 404" in line
