"""The emulator process: one gRPC server and one HTTP server over the same stores.

Both run inside the calling process (gRPC on its own thread pool, uvicorn on a thread) so
tests can start an emulator in-process, and ``serve`` wraps the same object for the
``composer-obs emulator`` command and ``python -m observability.emulator``. Every service
adds its gRPC handler and REST router in ``_services``; nothing else needs to change.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import grpc
import uvicorn
from fastapi import APIRouter, FastAPI

from observability.emulator.alert_policies import grpc as alert_policies_grpc
from observability.emulator.alert_policies.service import AlertPolicyService
from observability.emulator.alert_policies.store import AlertPolicyStore
from observability.emulator.alerting import rest as alerting_rest
from observability.emulator.alerting.evaluator import AlertEvaluator, build_alerting
from observability.emulator.channels import grpc as channels_grpc
from observability.emulator.channels.service import NotificationChannelService
from observability.emulator.channels.store import NotificationChannelStore
from observability.emulator.common import clock
from observability.emulator.common.call_counter import CallCounter
from observability.emulator.common.crud import ResourceStore
from observability.emulator.common.rest_common import build_app
from observability.emulator.composer import environments as composer_environments
from observability.emulator.dashboards import grpc as dashboards_grpc
from observability.emulator.dashboards import rest as dashboards_rest
from observability.emulator.dashboards.service import DashboardsService
from observability.emulator.dashboards.store import DashboardsStore
from observability.emulator.descriptors import grpc as descriptors_grpc
from observability.emulator.descriptors.catalogue import builtins
from observability.emulator.descriptors.service import DescriptorService
from observability.emulator.descriptors.store import DescriptorStore
from observability.emulator.log_entries import grpc as log_entries_grpc
from observability.emulator.log_entries import rest as log_entries_rest
from observability.emulator.log_entries.service import LoggingService
from observability.emulator.log_entries.store import LoggingStore
from observability.emulator.log_metrics import grpc as log_metrics_grpc
from observability.emulator.log_metrics.service import LogMetricsService
from observability.emulator.log_metrics.store import LogMetricsStore
from observability.emulator.time_series import grpc as time_series_grpc
from observability.emulator.time_series import rest as time_series_rest
from observability.emulator.time_series.engine import TimeSeriesEngine
from observability.emulator.time_series.service import WrittenSeriesService
from observability.emulator.time_series.store import WrittenSeriesStore
from observability.gcp import Endpoint

_GRPC_WORKERS = 16
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # above the APIs' own limits, so those answer instead
_START_TIMEOUT_S = 10.0


class EmulatorServer:
    """A running emulator (after ``start()``); ``port=0`` picks a free port.

    ``data_dir`` holds the SQLite files; pointing a new server at the same directory
    continues with the same data.
    """

    def __init__(
        self, data_dir: Path, host: str = "127.0.0.1", grpc_port: int = 0, http_port: int = 0
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._grpc_port = grpc_port
        self._http_port = http_port
        self._stores: list[
            LoggingStore
            | LogMetricsStore
            | ResourceStore[Any]
            | WrittenSeriesStore
            | composer_environments.EnvironmentsStore
            | DescriptorStore
        ] = []
        self.clock = clock.Clock()
        self.calls = CallCounter()
        self._grpc: grpc.Server | None = None
        self._grpc_pool: ThreadPoolExecutor | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        self.alerting: AlertEvaluator | None = None

    def _services(self) -> tuple[list[grpc.GenericRpcHandler], list[APIRouter]]:
        logging_store = LoggingStore(self.data_dir / "logging.db")
        self._stores.append(logging_store)
        logging_service = LoggingService(logging_store)
        dashboards_store = DashboardsStore(self.data_dir / "dashboards.db")
        self._stores.append(dashboards_store)
        metrics_store = LogMetricsStore(self.data_dir / "metrics.db")
        self._stores.append(metrics_store)
        metrics_service = LogMetricsService(metrics_store, self.clock)
        logging_service.listeners.append(metrics_service.on_entries)
        written_store = WrittenSeriesStore(self.data_dir / "written_series.db")
        self._stores.append(written_store)
        written_service = WrittenSeriesService(written_store, self.clock)
        policy_store = AlertPolicyStore(self.data_dir / "alert_policies.db")
        channel_store = NotificationChannelStore(self.data_dir / "notification_channels.db")
        self._stores += [policy_store, channel_store]
        environments = composer_environments.EnvironmentsStore(self.data_dir / "composer.db")
        self._stores.append(environments)
        descriptor_store = DescriptorStore(self.data_dir / "descriptors.db")
        self._stores.append(descriptor_store)
        series_engine = TimeSeriesEngine(metrics_service, written_service)
        descriptor_service = DescriptorService(
            builtins(),
            descriptor_store,
            time_series_grpc.implied_descriptors(series_engine),
            written_service.delete_metric,
        )
        dashboards_service = DashboardsService(dashboards_store, descriptor_service.find)
        # the evaluator gets an engine of its own: an engine's series cache is not shared
        self.alerting = build_alerting(
            self.data_dir,
            self.clock,
            policy_store,
            channel_store,
            TimeSeriesEngine(metrics_service, written_service),
            logging_service,
        )
        return (
            [
                log_entries_grpc.handler(logging_service),
                dashboards_grpc.handler(dashboards_service),
                log_metrics_grpc.handler(metrics_service),
                descriptors_grpc.handler(descriptor_service),
                time_series_grpc.handler(series_engine),
                alert_policies_grpc.handler(
                    AlertPolicyService(policy_store, channel_store, descriptor_service.find)
                ),
                channels_grpc.handler(NotificationChannelService(channel_store, policy_store)),
            ],
            [
                log_entries_rest.router(logging_service),
                dashboards_rest.router(dashboards_service),
                clock.router(self.clock),
                self.calls.router(),
                alerting_rest.router(self.alerting),
                time_series_rest.router(written_service),
                composer_environments.router(environments),
            ],
        )

    def start(self) -> None:
        """Open the stores and start listening; returns once both servers accept."""
        if self._grpc is not None:
            raise RuntimeError("emulator already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handlers, routers = self._services()
        self._grpc_pool = ThreadPoolExecutor(_GRPC_WORKERS, thread_name_prefix="emulator-grpc")
        server = grpc.server(
            self._grpc_pool,
            handlers=handlers,
            interceptors=[self.calls.interceptor()],
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        self._grpc = server
        try:
            bound = server.add_insecure_port(f"{self._host_for_url()}:{self._grpc_port}")
            if not bound:
                raise RuntimeError(f"cannot listen on {self.host}:{self._grpc_port}")
            self._grpc_port = bound
            server.start()
            app = build_app(routers)
            self.calls.watch(app)
            self._start_http(app)
            if self.alerting is not None:
                self.alerting.start()
        except BaseException:
            self.stop()
            raise

    def _start_http(self, app: FastAPI) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._http_port))
        except OSError:
            sock.close()
            raise
        self._http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", access_log=False, lifespan="off"
        )
        self._http = uvicorn.Server(config)
        # Off the main thread uvicorn installs no signal handlers: serve() owns them.
        self._http_thread = threading.Thread(
            target=self._http.run, kwargs={"sockets": [sock]}, name="emulator-http", daemon=True
        )
        self._http_thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._http.started:
            if not self._http_thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the HTTP server did not start on {self.host}:{self._http_port}"
                )
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop both servers and close the stores; safe to call twice."""
        if self.alerting is not None:
            self.alerting.stop()
            self.alerting = None
        if self._http is not None and self._http_thread is not None:
            self._http.should_exit = True
            self._http_thread.join(timeout=_START_TIMEOUT_S)
        self._http = self._http_thread = None
        if self._grpc is not None:
            self._grpc.stop(grace=1.0).wait()
        if self._grpc_pool is not None:
            self._grpc_pool.shutdown(wait=True)
        self._grpc = self._grpc_pool = None
        for store in self._stores:
            store.close()
        self._stores.clear()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _host_for_url(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC server."""
        return f"{self._host_for_url()}:{self._grpc_port}"

    @property
    def http_url(self) -> str:
        """``http://host:port`` of the REST server."""
        return f"http://{self._host_for_url()}:{self._http_port}"

    @property
    def endpoint(self) -> Endpoint:
        """What ``observability.gcp`` needs to build clients against this emulator."""
        return Endpoint(grpc_target=self.grpc_target, http_url=self.http_url)


def serve(
    data_dir: Path, host: str = "127.0.0.1", port: int = 8085, http_port: int | None = None
) -> None:
    """Run an emulator until SIGINT or SIGTERM; the HTTP port defaults to ``port + 1``."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with EmulatorServer(
            data_dir, host, grpc_port=port, http_port=port + 1 if http_port is None else http_port
        ) as server:
            print(
                f"composer-obs emulator: gRPC on {server.grpc_target}, HTTP on {server.http_url}, "
                f"data in {server.data_dir}",
                flush=True,
            )
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
