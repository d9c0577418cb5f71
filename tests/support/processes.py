"""Broken Cloud Logging endpoints for tests: one that hangs, one that refuses, one that is late."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

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


@contextmanager
def late_endpoint(target: str, ready_after_s: float, refuse: bool = False) -> Iterator[str]:
    """host:port of a TCP relay to ``target`` that takes no connection for ``ready_after_s``.

    Until then it either lets connections queue in the kernel's backlog without accepting
    them (a peer slow to accept: the client's HTTP/2 handshake stalls), or, with ``refuse``,
    does not listen at all (connection refused). After that it relays every connection,
    queued ones first, both ways, byte for byte.
    """
    host, _, port = target.rpartition(":")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    if not refuse:
        listener.listen(256)
    stop = threading.Event()
    open_sockets: list[socket.socket] = [listener]

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        if stop.wait(ready_after_s):
            return
        if refuse:
            listener.listen(256)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((host, int(port)))
            open_sockets.extend((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    address, bound_port = listener.getsockname()
    try:
        yield f"{address}:{bound_port}"
    finally:
        stop.set()
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        server.join(timeout=5)
