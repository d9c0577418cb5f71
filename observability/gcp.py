"""One place that decides where the Google APIs are: Google itself, or the local emulator.

Everything that talks to Cloud Logging or Cloud Monitoring gets its client here, so the code
under test is the production code with another endpoint. The emulator serves plaintext gRPC,
which the Google clients cannot reach through ``client_options`` alone (they insist on TLS):
the transport is built on an insecure channel instead. Google client modules are imported
inside the functions, because importing them costs most of a second and callbacks must not
pay it at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from observability import __version__
from observability.settings import Settings, load_settings

if TYPE_CHECKING:
    import grpc
    from google.api_core.gapic_v1.client_info import ClientInfo
    from google.cloud.logging import Client as LoggingClient
    from google.cloud.logging_v2.services.config_service_v2 import ConfigServiceV2Client
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client

_Client = TypeVar("_Client")

EMULATOR_PROJECT = "local-project"
"""Project id used against the emulator when none is configured."""

USER_AGENT = f"composer-observability/{__version__}"
"""How every call this package makes to Google introduces itself (its API and audit logs
show it), ahead of the client library's own ``gl-python/... grpc/... gapic/...``."""


def client_info() -> ClientInfo:
    """The ``client_info`` every Google client gets here: it carries :data:`USER_AGENT` in
    ``x-goog-api-client`` (gRPC metadata) and in ``User-Agent`` (REST)."""
    from google.api_core.gapic_v1.client_info import ClientInfo

    return ClientInfo(user_agent=USER_AGENT)


@dataclass(frozen=True)
class Endpoint:
    """Where the APIs are. ``grpc_target`` is None for Google's own endpoints."""

    grpc_target: str | None = None
    http_url: str | None = None

    @property
    def emulated(self) -> bool:
        return self.grpc_target is not None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Endpoint:
        """Read ``COMPOSER_OBS_EMULATOR`` (gRPC host:port; HTTP is the next port by default)."""
        settings = settings or load_settings()
        if not settings.emulator:
            return cls()
        host, _, port = settings.emulator.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"COMPOSER_OBS_EMULATOR must be host:port, got {settings.emulator!r}")
        http = settings.emulator_http or f"{host}:{int(port) + 1}"
        return cls(grpc_target=settings.emulator, http_url=f"http://{http}")


def project_id(settings: Settings | None = None, endpoint: Endpoint | None = None) -> str:
    """The configured project, or a fixed local one when talking to the emulator."""
    settings = settings or load_settings()
    endpoint = endpoint or Endpoint.from_settings(settings)
    if settings.project:
        return settings.project
    if endpoint.emulated:
        return EMULATOR_PROJECT
    import google.auth

    _, project = google.auth.default()
    if not project:
        raise ValueError("no project: set COMPOSER_OBS_PROJECT (or GCP_PROJECT)")
    return str(project)


def _channel(endpoint: Endpoint) -> grpc.Channel:
    import grpc

    assert endpoint.grpc_target is not None
    return grpc.insecure_channel(
        endpoint.grpc_target,
        options=[
            ("grpc.primary_user_agent", USER_AGENT),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ],
    )


def _grpc_client(
    client: Callable[..., _Client], transport: Callable[..., Any], endpoint: Endpoint | None
) -> _Client:
    """A generated gRPC client: Google's own channel for Google, the emulator's insecure
    channel (built here, through ``transport``) for the emulator."""
    endpoint = endpoint or Endpoint.from_settings()
    if not endpoint.emulated:
        return client(client_info=client_info())
    return client(transport=transport(channel=_channel(endpoint), client_info=client_info()))


def _rest_client(client: Callable[..., _Client], endpoint: Endpoint | None) -> _Client:
    """A generated client over REST, which reaches the emulator's ``http://`` URL as it is."""
    endpoint = endpoint or Endpoint.from_settings()
    if not endpoint.emulated:
        return client(transport="rest", client_info=client_info())
    return client(transport="rest", **_emulator_rest(endpoint))


def _emulator_rest(endpoint: Endpoint) -> dict[str, Any]:
    """A REST client's options for the emulator: its ``http://`` URL as it is, no credentials."""
    from google.auth.credentials import AnonymousCredentials

    return {
        "credentials": AnonymousCredentials(),
        "client_options": {"api_endpoint": endpoint.http_url},
        "client_info": client_info(),
    }


def logging_api(endpoint: Endpoint | None = None) -> LoggingServiceV2Client:
    """The generated (GAPIC) Logging client: WriteLogEntries, ListLogEntries over gRPC."""
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.logging_v2.services.logging_service_v2.transports.grpc import (
        LoggingServiceV2GrpcTransport,
    )

    return _grpc_client(LoggingServiceV2Client, LoggingServiceV2GrpcTransport, endpoint)


def metrics_api(endpoint: Endpoint | None = None) -> MetricsServiceV2Client:
    """The generated client for log-based metrics (the hand-written one knows no labels)."""
    from google.cloud.logging_v2.services.metrics_service_v2 import MetricsServiceV2Client
    from google.cloud.logging_v2.services.metrics_service_v2.transports.grpc import (
        MetricsServiceV2GrpcTransport,
    )

    return _grpc_client(MetricsServiceV2Client, MetricsServiceV2GrpcTransport, endpoint)


def config_api(endpoint: Endpoint | None = None) -> ConfigServiceV2Client:
    """The generated client for log buckets, sinks and exclusions."""
    from google.cloud.logging_v2.services.config_service_v2 import ConfigServiceV2Client
    from google.cloud.logging_v2.services.config_service_v2.transports.grpc import (
        ConfigServiceV2GrpcTransport,
    )

    return _grpc_client(ConfigServiceV2Client, ConfigServiceV2GrpcTransport, endpoint)


def logging_client(
    project: str | None = None,
    endpoint: Endpoint | None = None,
    transport: Literal["grpc", "http"] = "grpc",
) -> LoggingClient:
    """The hand-written ``google.cloud.logging.Client`` (``list_entries``, ``logger``).

    Over HTTP the client takes an ``http://`` endpoint as it is. Over gRPC it would build TLS
    channels, so against the emulator its three API adapters (entries, metrics, sinks) are
    built on insecure GAPIC clients instead (the adapter classes are the library's own).
    """
    from google.cloud.logging import Client
    from google.cloud.logging_v2 import _gapic

    endpoint = endpoint or Endpoint.from_settings()
    project = project or project_id(endpoint=endpoint)
    if not endpoint.emulated:
        return Client(project=project, _use_grpc=transport == "grpc", client_info=client_info())
    client = Client(project=project, _use_grpc=transport == "grpc", **_emulator_rest(endpoint))
    if transport == "grpc":
        client._logging_api = _gapic._LoggingAPI(logging_api(endpoint), client)
        client._metrics_api = _gapic._MetricsAPI(metrics_api(endpoint), client)
        client._sinks_api = _gapic._SinksAPI(config_api(endpoint), client)
    return client


if TYPE_CHECKING:
    from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient


def dashboards_api(
    endpoint: Endpoint | None = None, transport: Literal["grpc", "rest"] = "grpc"
) -> DashboardsServiceClient:
    """The generated Dashboards client (google-cloud-monitoring-dashboards), gRPC or REST.

    Over REST the client takes the emulator's ``http://`` endpoint as it is. Both transports
    round-trip dashboards through the client's proto, which drops fields it does not know:
    code that must keep every field sends the dashboard JSON over REST itself.
    """
    from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient
    from google.cloud.monitoring_dashboard_v1.services.dashboards_service.transports.grpc import (
        DashboardsServiceGrpcTransport,
    )

    if transport == "grpc":
        return _grpc_client(DashboardsServiceClient, DashboardsServiceGrpcTransport, endpoint)
    return _rest_client(DashboardsServiceClient, endpoint)


if TYPE_CHECKING:
    from google.cloud.monitoring_v3 import MetricServiceClient


def monitoring_metric_api(endpoint: Endpoint | None = None) -> MetricServiceClient:
    """The generated Monitoring MetricService client (ListTimeSeries, metric descriptors)."""
    from google.cloud.monitoring_v3 import MetricServiceClient
    from google.cloud.monitoring_v3.services.metric_service.transports.grpc import (
        MetricServiceGrpcTransport,
    )

    return _grpc_client(MetricServiceClient, MetricServiceGrpcTransport, endpoint)


if TYPE_CHECKING:
    from google.cloud.monitoring_v3 import (
        AlertPolicyServiceClient,
        NotificationChannelServiceClient,
    )


def alert_policy_api(endpoint: Endpoint | None = None) -> AlertPolicyServiceClient:
    """The generated Monitoring AlertPolicyService client."""
    from google.cloud.monitoring_v3 import AlertPolicyServiceClient
    from google.cloud.monitoring_v3.services.alert_policy_service.transports.grpc import (
        AlertPolicyServiceGrpcTransport,
    )

    return _grpc_client(AlertPolicyServiceClient, AlertPolicyServiceGrpcTransport, endpoint)


def notification_channel_api(endpoint: Endpoint | None = None) -> NotificationChannelServiceClient:
    """The generated Monitoring NotificationChannelService client."""
    from google.cloud.monitoring_v3 import NotificationChannelServiceClient
    from google.cloud.monitoring_v3.services.notification_channel_service.transports.grpc import (
        NotificationChannelServiceGrpcTransport,
    )

    return _grpc_client(
        NotificationChannelServiceClient, NotificationChannelServiceGrpcTransport, endpoint
    )


if TYPE_CHECKING:
    from google.cloud.orchestration.airflow.service_v1 import EnvironmentsClient


def composer_api(endpoint: Endpoint | None = None) -> EnvironmentsClient:
    """The generated Composer client (environments.get / list) over REST: the emulator serves
    the Composer API over HTTP only, and REST needs no TLS trick to reach it."""
    from google.cloud.orchestration.airflow.service_v1 import EnvironmentsClient

    return _rest_client(EnvironmentsClient, endpoint)


def whole_numbers(value: Any) -> Any:
    """A payload read back from Cloud Logging as it was written. JSON payloads travel as
    protobuf Structs, where every number is a double: ``try_number: 2``, not ``2.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value
