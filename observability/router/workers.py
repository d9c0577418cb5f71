"""Running the router: in this process, or as a supervisor of several processes on one port.

One Python process uses one core at most (the interpreter lock), and the durable ingest is
CPU-bound in Python (bench/README.md). ``router serve --workers N`` therefore binds the port
once and starts N HTTP workers that all accept from that socket, plus one dispatching process
(see ``runtime.Role``): the workers authenticate, validate and journal (SQLite) or store
(PostgreSQL) what they accept and answer the APIs; the dispatching process applies the
journals, routes, groups and delivers. Work that follows an acknowledgement then never holds
the interpreter lock of a process that answers requests. The database coordinates them: the
dispatcher lock has one holder, and the first process to load a new configuration re-routes
(see ``runtime``). The supervisor only:

* forwards SIGHUP to every process (each reloads; ``POST /-/reload`` on one worker asks the
  supervisor to do the same for the others);
* on SIGTERM or SIGINT stops them gracefully, then exits;
* starts a process again when one dies, and gives up (exit 1) after more than MAX_RESTARTS
  deaths within RESTART_WINDOW seconds;
* gives them one directory for prometheus-client's multi-process mode (``metrics``), so that
  ``/metrics`` on any worker counts the whole router.

A process whose supervisor is gone (``kill -9``) stops by itself, so none is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from prometheus_client import multiprocess

from observability.router.app import FastIngest, create_asgi
from observability.router.auth import SecretRedactor, settings_secrets
from observability.router.config import load_config
from observability.router.dispatch_health import instance_name
from observability.router.log_lines import OneLineFormatter
from observability.router.metrics import MULTIPROCESS_DIRECTORY
from observability.router.runtime import Role, RouterRuntime
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
    """Log format and level, never a secret, one line per record (``log_lines``): the same
    in the supervisor and workers."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
    # httpx logs every request URL at INFO, and Slack/Chat/webhook URLs are secrets.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    redactor = SecretRedactor(settings_secrets(settings))
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(redactor)


def _freeze_startup_objects() -> None:
    """Move what exists now (modules, the configuration, the compiled routes: most of the
    process's objects, and they live as long as it does) out of the garbage collector's sight.

    Full collections otherwise walk them again and again: in the applier's benchmark, about
    13 µs per applied alert, 4 µs once frozen."""
    gc.collect()
    gc.freeze()


def _server(app: FastIngest, log_level: str, settings: RouterSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http=http_protocol(settings.header_timeout),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        log_level=log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.limit_concurrency,
        h11_max_incomplete_event_size=settings.max_header_bytes,
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
        _freeze_startup_objects()
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    load_config(settings.config_file)  # each worker loads it again: fail here, once
    Store(settings.database_url, settings.sqlite_synchronous).dispose()
    return Supervisor(settings, overrides, log_level).run()


def _worker_main(
    overrides: dict[str, Any], log_level: str, listener: socket.socket, supervisor: int
) -> None:
    """An HTTP worker process: ingest and the APIs on the supervisor's socket."""
    settings = _child_settings(overrides, log_level)
    app = create_asgi(settings, role=Role.INGEST, instance=instance_name(supervisor))
    app.app.state.runtime.reload_peers = lambda: os.kill(supervisor, signal.SIGHUP)
    server = _server(app, log_level, settings)

    def supervisor_gone() -> None:
        server.should_exit = True

    _watch_supervisor(supervisor, supervisor_gone)
    _freeze_startup_objects()
    server.run(sockets=[listener])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _dispatcher_main(overrides: dict[str, Any], log_level: str, supervisor: int) -> None:
    """The dispatching process: applies the journals, dispatches and delivers; no HTTP."""
    settings = _child_settings(overrides, log_level)
    runtime = RouterRuntime(settings, role=Role.DISPATCH, instance=instance_name(supervisor))
    # Below the HTTP workers: when the CPU is short, acknowledging comes first and the tables
    # catch up after the burst, in larger (cheaper) batches.
    os.nice(settings.dispatcher_nice)
    _freeze_startup_objects()
    asyncio.run(_dispatch_until_stopped(runtime, supervisor))


async def _dispatch_until_stopped(runtime: RouterRuntime, supervisor: int) -> None:
    """Run until SIGTERM/SIGINT or the supervisor's death; exit 1 if dispatching itself fails
    (the database unusable, say), so that the supervisor starts a fresh process instead of
    this one holding the dispatcher lock while doing nothing."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def supervisor_gone() -> None:
        loop.call_soon_threadsafe(stop.set)

    _watch_supervisor(supervisor, supervisor_gone)
    await runtime.start()
    # Reloads once started: before, the database may not even have its tables (a reload
    # signal meanwhile is ignored, and the configuration was read at start anyway).
    loop.add_signal_handler(
        signal.SIGHUP, lambda: loop.run_in_executor(None, runtime.reload, "SIGHUP")
    )
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopped, runtime.dispatching_ended()], return_when=asyncio.FIRST_COMPLETED)
    failure = None if stop.is_set() else runtime.dispatching_failure()
    stopped.cancel()
    await runtime.stop()
    if failure is not None:
        raise SystemExit(1)


def _child_settings(overrides: dict[str, Any], log_level: str) -> RouterSettings:
    """What every process the supervisor starts does first: settings, logging, GIL slices."""
    # The supervisor started this process with SIGHUP blocked (``Supervisor._start``): ignore
    # it until the process handles it, then let it through. The configuration is read after
    # this, so a reload asked for meanwhile is not missed.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = load_router_settings(**overrides)
    configure_logging(settings, log_level)
    return settings


def _watch_supervisor(supervisor: int, stop: Callable[[], None]) -> None:
    """Call ``stop`` once the supervisor is gone (``kill -9``): no process is left orphaned."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(ORPHAN_CHECK_INTERVAL)
        log.warning("the supervisor is gone: stopping")
        stop()

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


class Supervisor:
    """Binds the port, keeps the worker processes and the dispatching process running,
    relays signals."""

    def __init__(self, settings: RouterSettings, overrides: dict[str, Any], log_level: str):
        self.settings = settings
        self.overrides = overrides
        self.log_level = log_level
        self.processes: list[BaseProcess] = []
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

    def _start(self, listener: socket.socket, dispatcher: bool) -> BaseProcess:
        process = (
            self._context.Process(
                target=_dispatcher_main,
                args=(self.overrides, self.log_level, os.getpid()),
                name="router-dispatcher",
            )
            if dispatcher
            else self._context.Process(
                target=_worker_main,
                args=(self.overrides, self.log_level, listener, os.getpid()),
                name="router-worker",
            )
        )
        # A reload relayed while the process starts would end it (SIGHUP's default action)
        # before it can ignore the signal: it starts with SIGHUP blocked, and unblocks it
        # once it ignores it. The supervisor's own SIGHUPs wait meanwhile, they are not lost.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        return process

    def _signal_all(self, signum: int) -> None:
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it has just exited
                    os.kill(process.pid, signum)

    def _relay(self, signum: int, _frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._stopping = True
        self._signal_all(signal.SIGTERM if self._stopping else signum)

    def run(self) -> int:
        listener = self._listen()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._relay)
        log.info(
            "router on %s:%d with %d workers and a dispatching process",
            self.settings.host,
            self.settings.port,
            self.settings.workers,
        )
        metrics_directory = tempfile.mkdtemp(prefix="composer-obs-router-metrics-")
        # Read by prometheus-client when each process starts (spawn: a fresh interpreter).
        os.environ[MULTIPROCESS_DIRECTORY] = metrics_directory
        try:
            return self._keep_running(listener)
        finally:
            listener.close()
            shutil.rmtree(metrics_directory, ignore_errors=True)

    def _keep_running(self, listener: socket.socket) -> int:
        roles = [False] * self.settings.workers + [True]
        self.processes = [self._start(listener, dispatcher) for dispatcher in roles]
        code = 0
        while not self._stopping:
            time.sleep(0.2)
            for index, process in enumerate(self.processes):
                if self._stopping or process.is_alive():
                    continue
                if process.pid is not None:
                    multiprocess.mark_process_dead(process.pid)
                now = time.monotonic()
                self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW] + [now]
                if len(self._deaths) > MAX_RESTARTS:
                    log.error(
                        "router processes keep exiting (last code %s): stopping",
                        process.exitcode,
                    )
                    self._stopping, code = True, 1
                    break
                log.warning(
                    "%s %s exited with %s: starting another",
                    process.name,
                    process.pid,
                    process.exitcode,
                )
                self.processes[index] = self._start(listener, roles[index])
        self._signal_all(signal.SIGTERM)
        for process in self.processes:
            process.join(GRACEFUL_SHUTDOWN + 10)
            if process.is_alive():
                process.kill()
                process.join()
        return code
