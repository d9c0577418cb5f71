"""Running the router: in this process, or as a supervisor of several workers on one port.

One Python process uses one core at most (the interpreter lock), and the durable ingest is
CPU-bound in Python (bench/README.md). ``router serve --workers N`` therefore binds the port
once and starts N worker processes that all accept from that socket; each is a whole router
(ingest, APIs) on the same database, SQLite or PostgreSQL. The database coordinates them:
SQLite writers queue on a lock file, exactly one process (the holder of the dispatcher lock)
dispatches and delivers, and the first to load a new configuration re-routes (see
``runtime``). The supervisor only:

* forwards SIGHUP to every worker (each reloads; ``POST /-/reload`` on one worker asks the
  supervisor to do the same for the others);
* on SIGTERM or SIGINT stops the workers gracefully, then exits;
* starts a worker again when one dies, and gives up (exit 1) if they keep dying at start.

A worker whose supervisor is gone (``kill -9``) stops by itself, so none is left serving.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from observability.router.app import FastIngest, create_asgi
from observability.router.auth import SecretRedactor, settings_secrets
from observability.router.config import load_config
from observability.router.server import http_protocol
from observability.router.settings import RouterSettings, load_router_settings
from observability.router.store import Store

log = logging.getLogger(__name__)

# Workers that die this many times within RESTART_WINDOW seconds are not started again.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
GRACEFUL_SHUTDOWN = 20
STARTUP_FAILURE = 3  # uvicorn's exit code when the application could not start
ORPHAN_CHECK_INTERVAL = 1.0
SWITCH_INTERVAL = 0.001
"""How long a thread may keep the GIL while another waits for it (Python's default: 5 ms).

The event loop answers requests; the journal applier, the dispatcher and the courier run in
threads of the same process. With the default, each time the loop waits for the GIL a
background thread may keep it 5 ms, several times per request: at a fixed 1,000 alerts/s the
p99 was 57-69 ms, with 1 ms it was 25-44 ms (alternated runs), at the same throughput."""


def configure_logging(settings: RouterSettings, log_level: str) -> None:
    """Log format and level, and never a secret: the same in the supervisor and workers."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL at INFO, and Slack/Chat/webhook URLs are secrets.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    redactor = SecretRedactor(settings_secrets(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)


def _server(app: FastIngest, log_level: str, settings: RouterSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http=http_protocol(),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        log_level=log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return uvicorn.Server(config)


def serve(settings: RouterSettings, overrides: dict[str, Any], log_level: str) -> int:
    """Run until SIGTERM/SIGINT; ``overrides`` are the flags, for workers to start alike.

    Returns the exit code. Raises ConfigError/ValueError from the configuration or database
    URL before anything listens, so that the command can report them in one line.
    """
    configure_logging(settings, log_level)
    if settings.workers == 1:
        sys.setswitchinterval(SWITCH_INTERVAL)
        server = _server(create_asgi(settings), log_level, settings)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    load_config(settings.config_file)  # each worker loads it again: fail here, once
    Store(settings.database_url, settings.sqlite_synchronous).dispose()
    return Supervisor(settings, overrides, log_level).run()


def _worker_main(
    overrides: dict[str, Any], log_level: str, listener: socket.socket, supervisor: int
) -> None:
    """A worker process: the router on the supervisor's socket."""
    # Until the application handles SIGHUP, a reload signal must not end the process.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = load_router_settings(**overrides)
    configure_logging(settings, log_level)
    app = create_asgi(settings)
    app.app.state.runtime.reload_peers = lambda: os.kill(supervisor, signal.SIGHUP)
    server = _server(app, log_level, settings)

    def watch_supervisor() -> None:
        while not server.should_exit:
            if os.getppid() != supervisor:
                log.warning("the supervisor is gone: stopping")
                server.should_exit = True
                return
            time.sleep(ORPHAN_CHECK_INTERVAL)

    threading.Thread(target=watch_supervisor, name="supervisor-watch", daemon=True).start()
    server.run(sockets=[listener])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class Supervisor:
    """Binds the port, keeps ``settings.workers`` worker processes running, relays signals."""

    def __init__(self, settings: RouterSettings, overrides: dict[str, Any], log_level: str):
        self.settings = settings
        self.overrides = overrides
        self.log_level = log_level
        self.workers: list[BaseProcess] = []
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False
        self._deaths: list[float] = []

    def _listen(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.settings.host, self.settings.port))
        # Not listening yet: the first worker to be ready starts listening, so a connection
        # is refused (not left waiting) until a worker can answer it.
        return listener

    def _start_worker(self, listener: socket.socket) -> BaseProcess:
        worker = self._context.Process(
            target=_worker_main,
            args=(self.overrides, self.log_level, listener, os.getpid()),
            name="router-worker",
        )
        worker.start()
        return worker

    def _signal_workers(self, signum: int) -> None:
        for worker in self.workers:
            if worker.pid is not None and worker.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it has just exited
                    os.kill(worker.pid, signum)

    def _relay(self, signum: int, _frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._stopping = True
        self._signal_workers(signal.SIGTERM if self._stopping else signum)

    def run(self) -> int:
        listener = self._listen()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._relay)
        log.info(
            "router on %s:%d with %d workers",
            self.settings.host,
            self.settings.port,
            self.settings.workers,
        )
        self.workers = [self._start_worker(listener) for _ in range(self.settings.workers)]
        code = 0
        while not self._stopping:
            time.sleep(0.2)
            for index, worker in enumerate(self.workers):
                if self._stopping or worker.is_alive():
                    continue
                now = time.monotonic()
                self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW] + [now]
                if len(self._deaths) > MAX_RESTARTS:
                    log.error("workers keep exiting (last code %s): stopping", worker.exitcode)
                    self._stopping, code = True, 1
                    break
                log.warning(
                    "worker %s exited with %s: starting another", worker.pid, worker.exitcode
                )
                self.workers[index] = self._start_worker(listener)
        self._signal_workers(signal.SIGTERM)
        for worker in self.workers:
            worker.join(GRACEFUL_SHUTDOWN + 10)
            if worker.is_alive():
                worker.kill()
                worker.join()
        listener.close()
        return code
