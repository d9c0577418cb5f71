"""Broken Cloud Logging endpoints for tests: one that hangs, one that refuses."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from observability.emulator.process import free_port_pair


@contextmanager
def black_hole() -> Iterator[str]:
    """host:port that accepts TCP connections and never answers: a hanging Cloud Logging."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        host, port = listener.getsockname()
        yield f"{host}:{port}"


def closed_port() -> str:
    """host:port where nothing listens: Cloud Logging down (connection refused)."""
    return f"127.0.0.1:{free_port_pair()}"
