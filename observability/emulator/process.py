"""The emulator as a child process: how the demo, the benchmarks and the tests run it.

A separate process, not a thread, so the code under test shares nothing with the server but
the wire, exactly as it will with Google.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from observability.child_process import child_process
from observability.gcp import Endpoint


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A free TCP port whose successor is free too (the emulator's gRPC and HTTP ports)."""
    while True:
        port = free_port()
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


@contextmanager
def emulator_process(
    data_dir: Path, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Endpoint]:
    """Start ``python -m observability.emulator`` on free ports (``env`` added to its
    environment); stop it on exit."""
    port = port or free_port_pair()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "observability.emulator", "--port", str(port)]

    def ready(_: subprocess.Popen[bytes]) -> None:
        wait_for_port(port)
        wait_for_port(port + 1)

    with child_process(
        [*command, "--data-dir", str(data_dir)],
        ready,
        log=data_dir / "emulator.log",
        stop_timeout=10,
        env=env,
    ):
        yield Endpoint(grpc_target=f"127.0.0.1:{port}", http_url=f"http://127.0.0.1:{port + 1}")
