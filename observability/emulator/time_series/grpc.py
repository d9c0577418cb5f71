"""``google.monitoring.v3.MetricService`` over gRPC: log-based metrics and written series.

ListTimeSeries (filter, interval, aggregation, secondary aggregation, view, page tokens)
answers from ``TimeSeriesEngine``; CreateTimeSeries writes through the engine's
``WrittenSeriesService``; ``implied_descriptors`` tells the descriptors package (which
serves the descriptor methods) the descriptors of log-based metrics and those auto-created by
written series (which it deletes through ``WrittenSeriesService.delete_metric``). Only
conversions happen here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final

import grpc
from google.api import distribution_pb2, label_pb2, metric_pb2
from google.cloud.monitoring_v3.types import (
    Aggregation as AggregationProto,
)
from google.cloud.monitoring_v3.types import (
    CreateTimeSeriesRequest,
    ListTimeSeriesRequest,
    ListTimeSeriesResponse,
)
from google.protobuf import empty_pb2

from observability.emulator.common import page_tokens
from observability.emulator.common.errors import ApiError
from observability.emulator.common.grpc_common import unary
from observability.emulator.time_series.engine import Aggregation, TimeSeriesEngine
from observability.emulator.time_series.model import Distribution, TimeSeries

SERVICE_NAME = "google.monitoring.v3.MetricService"
DEFAULT_PAGE_SIZE: Final = 10_000
MAX_PAGE_SIZE: Final = 100_000

_AggregationPb = AggregationProto.pb()
_ListRequest = ListTimeSeriesRequest.pb()
_ListResponse = ListTimeSeriesResponse.pb()
_TimeSeriesPb = _ListResponse().time_series.add().__class__
_CreateRequest = CreateTimeSeriesRequest.pb()
_HEADERS_VIEW = 1


def _project(name: str) -> str:
    kind, _, ident = name.partition("/")
    if kind != "projects" or not ident or "/" in ident:
        raise ApiError.invalid(f"name: must be projects/[PROJECT_ID], got {name!r}")
    return name


def _aggregation(message: Any) -> Aggregation | None:
    if not message.ByteSize():
        return None
    period = message.alignment_period
    return Aggregation(
        alignment_period=(period.seconds + period.nanos / 1e9)
        if message.HasField("alignment_period")
        else None,
        per_series_aligner=_AggregationPb.Aligner.Name(message.per_series_aligner),
        cross_series_reducer=_AggregationPb.Reducer.Name(message.cross_series_reducer),
        group_by_fields=tuple(message.group_by_fields),
    )


def _datetime(stamp: Any) -> datetime:
    return datetime.fromtimestamp(stamp.seconds, tz=timezone.utc).replace(
        microsecond=stamp.nanos // 1000
    )


def _distribution(value: Distribution, options: Any) -> distribution_pb2.Distribution:
    result = distribution_pb2.Distribution(
        count=value.count,
        mean=value.mean,
        sum_of_squared_deviation=value.sum_of_squared_deviation,
        bucket_counts=list(value.bucket_counts),
    )
    if value.count:
        result.range.min = value.minimum
        result.range.max = value.maximum
    if options is not None:
        result.bucket_options.CopyFrom(options)
    else:
        result.bucket_options.explicit_buckets.bounds.extend(value.bounds)
    return result


def to_proto(series: TimeSeries, headers_only: bool = False) -> Any:
    """A ``TimeSeries`` as the raw ``google.monitoring.v3.TimeSeries`` protobuf."""
    message = _TimeSeriesPb()
    message.metric.type = series.metric_type
    message.metric.labels.update(series.metric_labels)
    message.resource.type = series.resource_type
    message.resource.labels.update(series.resource_labels)
    message.metric_kind = metric_pb2.MetricDescriptor.MetricKind.Value(series.metric_kind)
    message.value_type = metric_pb2.MetricDescriptor.ValueType.Value(series.value_type)
    message.unit = series.unit
    if headers_only:
        return message
    for point in series.points:
        out = message.points.add()
        out.interval.start_time.FromDatetime(point.start)
        out.interval.end_time.FromDatetime(point.end)
        value = point.value
        if isinstance(value, Distribution):
            out.value.distribution_value.CopyFrom(_distribution(value, series.bucket_options))
        elif series.value_type == "INT64":
            out.value.int64_value = round(value)
        elif series.value_type == "BOOL":
            out.value.bool_value = bool(value)
        else:
            out.value.double_value = value
    return message


def _page(items: list[Any], digest: str, page_size: int, token: str) -> tuple[list[Any], str]:
    start = 0
    if token:
        token_digest, start = page_tokens.decode(token, (str, int), "page_token")
        if token_digest != digest or start < 0:
            raise ApiError.invalid("page_token: not a token this server issued for this query")
    end = start + page_size
    following = page_tokens.encode(digest, end) if end < len(items) else ""
    return items[start:end], following


def _page_size(requested: int) -> int:
    if requested < 0:
        raise ApiError.invalid("page_size: must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def implied_descriptors(engine: TimeSeriesEngine) -> Callable[[str], list[Any]]:
    """``project -> descriptors`` the engine's series imply: those of the project's
    log-based metrics (``logging.googleapis.com/user/NAME``) and those CreateTimeSeries
    auto-created; the descriptors package merges them with Google's built-ins."""

    def descriptors(project: str) -> list[Any]:
        result = []
        for metric in engine.metrics.metrics_of(f"projects/{project}"):
            descriptor = metric_pb2.MetricDescriptor()
            descriptor.CopyFrom(metric.metric.metric_descriptor)
            descriptor.ClearField("name")
            descriptor.monitored_resource_types[:] = []
            result.append(descriptor)
        if engine.written is not None:
            for written in engine.written.descriptors(project):
                result.append(
                    metric_pb2.MetricDescriptor(
                        type=written.metric_type,
                        metric_kind=written.metric_kind,
                        value_type=written.value_type,
                        unit=written.unit,
                        labels=[label_pb2.LabelDescriptor(key=k) for k in written.label_keys],
                    )
                )
        return result

    return descriptors


def handler(engine: TimeSeriesEngine) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_time_series(request: Any) -> Any:
        parent = _project(request.name)
        if not request.HasField("interval") or not request.interval.HasField("end_time"):
            raise ApiError.invalid("interval.end_time: required")
        end = _datetime(request.interval.end_time)
        start = (
            _datetime(request.interval.start_time)
            if request.interval.HasField("start_time")
            else end
        )
        aggregation = _aggregation(request.aggregation) if request.HasField("aggregation") else None
        secondary = (
            _aggregation(request.secondary_aggregation)
            if request.HasField("secondary_aggregation")
            else None
        )
        series = engine.list_time_series(parent, request.filter, start, end, aggregation, secondary)
        query = _ListRequest()
        query.CopyFrom(request)
        query.ClearField("page_token")
        digest = hashlib.sha256(query.SerializeToString(deterministic=True)).hexdigest()[:16]
        page, token = _page(series, digest, _page_size(request.page_size), request.page_token)
        headers_only = request.view == _HEADERS_VIEW
        response = _ListResponse(next_page_token=token)
        response.time_series.extend(to_proto(s, headers_only) for s in page)
        if page:
            response.unit = page[0].unit
        return response

    def create_time_series(request: Any) -> Any:
        parent = _project(request.name)
        if engine.written is None:
            raise ApiError(grpc.StatusCode.UNIMPLEMENTED, "CreateTimeSeries is not served")
        engine.written.create(parent.removeprefix("projects/"), request.time_series)
        return empty_pb2.Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "ListTimeSeries": unary(list_time_series, _ListRequest, _ListResponse),
            "CreateTimeSeries": unary(create_time_series, _CreateRequest, empty_pb2.Empty),
        },
    )
