"""A service this project starts for a while (the emulator, the router, a benchmark's server)
and must stop however the caller leaves: normally, on an exception, on Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def child_process(
    command: list[str],
    ready: Callable[[subprocess.Popen[bytes]], None],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
    stop_timeout: float = 20.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``, else discarded), return once ``ready(process)``
    does (it raises if the service never comes up), and on exit ask it to stop (SIGTERM),
    killing it after ``stop_timeout`` seconds."""
    with log.open("ab") if log else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=cwd,
        )
    try:
        ready(process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answering(
    process: subprocess.Popen[bytes], url: str, name: str, timeout: float, every: float = 0.1
) -> None:
    """Block until ``url`` answers 200; raise if ``process`` exits first or time runs out."""
    import httpx  # only the services that answer HTTP need it

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start")
        try:
            if httpx.get(url, timeout=min(5.0, timeout)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(every)
    raise TimeoutError(f"{name} was not ready after {timeout:.0f} s")
