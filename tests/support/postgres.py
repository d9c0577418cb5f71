"""A throwaway PostgreSQL server for tests (the router's replicas, the real-scheduler harness):
``initdb`` + ``pg_ctl`` in a temporary directory.

Needs only the server binaries (Debian: ``apt-get install postgresql``); nothing is installed
or started system-wide. PostgreSQL refuses to run as root, so as root the cluster belongs to
the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from observability.emulator.process import free_port_pair


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


@contextmanager
def postgres_server(user: str = "router", max_connections: int = 100) -> Iterator[str]:
    """Start a private PostgreSQL on 127.0.0.1; yields a SQLAlchemy URL of database
    ``postgres`` for ``user`` (trust auth); removes the whole cluster after."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found")
    run_as = _run_as()  # the system user of the server's processes; ``user`` is its superuser
    root = Path(tempfile.mkdtemp(prefix="composer-obs-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    port = free_port_pair()

    def run(*args: str) -> None:
        subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            check=True,
            user=run_as,
            capture_output=True,
            timeout=120,
            cwd=root,
        )

    try:
        run("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c max_connections={max_connections}"
        )
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        try:
            yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
        finally:
            _stop(run, data)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _stop(run: Callable[..., None], data: Path) -> None:
    """Stop the server, whatever ``pg_ctl`` does: a throwaway server must never outlive its
    test, and a ``pg_ctl`` that fails to stop it (once seen: it died of SIGSEGV in CI, the
    tests all passed) is no failure of the test. Fast, then immediate, then SIGKILL."""
    for mode in ("fast", "immediate"):
        try:
            run("pg_ctl", "-D", str(data), "-m", mode, "-w", "stop")
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            warnings.warn(f"pg_ctl stop -m {mode}: {exc}", stacklevel=2)
    with contextlib.suppress(OSError, ValueError, IndexError):  # no postmaster.pid: gone
        os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
