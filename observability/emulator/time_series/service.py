"""Written time series: CreateTimeSeries's rules, the emulator's seed, reading series back.

``create`` enforces what Google documents for ``projects.timeSeries.create``:

- only ``custom.googleapis.com/``, ``external.googleapis.com/`` and
  ``workload.googleapis.com/`` metric types (any type when seeding, see below);
- at most 200 series per request, each with exactly one point, no series twice;
- the first write of a type auto-creates its descriptor: the kind is the request's
  ``metric_kind`` (GAUGE by default; GAUGE or CUMULATIVE only) and the value type the point's
  (BOOL, INT64, DOUBLE or DISTRIBUTION); later writes must match both;
- a GAUGE point's start time is absent or equal to its end time; a DELTA or CUMULATIVE
  point's start time is before its end time;
- per series, points are written in order: a new end time after the newest one's, a
  CUMULATIVE start time not before the newest one's, DELTA intervals not overlapping;
- the end time is at most 25 hours in the past and 5 minutes in the future (emulator clock).

Malformed requests (the count, the points, missing fields, metric types) are refused whole
with ``Field timeSeries[i]...`` messages; a series refused for its descriptor, interval or
order is left out while the request's other series are written, and the error lists each
refused series (with a ``CreateTimeSeriesSummary`` detail), as Google answers.

``seed`` is the emulator-only variant behind ``POST /v1/emulator/projects/P/timeSeries:seed``:
the same rules, but any metric type (``composer.googleapis.com/...`` with its own resource
types), DELTA descriptors, and no 25-hour window, so tests and previews can stand in for what
Google itself would report, history included.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from google.cloud.monitoring_v3.types import CreateTimeSeriesSummary, TypedValue
from google.rpc import status_pb2

from observability.emulator.common.clock import Clock
from observability.emulator.common.errors import ApiError
from observability.emulator.common.monitoring_filter import MonitoringFilter
from observability.emulator.time_series.model import Distribution, Point, TimeSeries, Value
from observability.emulator.time_series.store import (
    LastPoint,
    NewPoint,
    WrittenDescriptor,
    WrittenSeriesStore,
)

WRITABLE_PREFIXES: Final = (
    "custom.googleapis.com/",
    "external.googleapis.com/",
    "workload.googleapis.com/",
)
MAX_SERIES_PER_REQUEST: Final = 200
MAX_PAST: Final = timedelta(hours=25)
MAX_FUTURE: Final = timedelta(minutes=5)
_KINDS: Final = {0: "", 1: "GAUGE", 2: "DELTA", 3: "CUMULATIVE"}
_VALUE_TYPES: Final = {0: "", 1: "BOOL", 2: "INT64", 3: "DOUBLE", 4: "STRING", 5: "DISTRIBUTION"}
_VALUE_FIELDS: Final = {
    "bool_value": "BOOL",
    "int64_value": "INT64",
    "double_value": "DOUBLE",
    "string_value": "STRING",
    "distribution_value": "DISTRIBUTION",
}
_SummaryPb = CreateTimeSeriesSummary.pb()
_TypedValuePb = TypedValue.pb()
_INVALID_ARGUMENT = 3


def _micros(stamp: Any) -> int:
    return int(stamp.seconds) * 1_000_000 + int(stamp.nanos) // 1000


def _datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc).replace(
        microsecond=micros % 1_000_000
    )


def _rfc3339(micros: int) -> str:
    return _datetime(micros).isoformat().replace("+00:00", "Z")


def _labels_text(kind: str, labels: dict[str, str]) -> str:
    return kind + "{" + ",".join(f"{k}:{v}" for k, v in sorted(labels.items())) + "}"


def _bounds(options: Any) -> tuple[float, ...]:
    """The finite bucket bounds a ``google.api.Distribution.BucketOptions`` describes."""
    which = options.WhichOneof("options")
    if which == "linear_buckets":
        linear = options.linear_buckets
        return tuple(linear.offset + linear.width * i for i in range(linear.num_finite_buckets + 1))
    if which == "exponential_buckets":
        exp = options.exponential_buckets
        return tuple(exp.scale * exp.growth_factor**i for i in range(exp.num_finite_buckets + 1))
    if which == "explicit_buckets":
        return tuple(options.explicit_buckets.bounds)
    return ()


def typed_value(typed: Any) -> Value:
    """A ``TypedValue`` as the engine's value: a number (BOOL as 0/1) or a Distribution."""
    which = typed.WhichOneof("value")
    if which == "distribution_value":
        dist = typed.distribution_value
        bounds = _bounds(dist.bucket_options)
        counts = list(dist.bucket_counts) + [0] * (len(bounds) + 1 - len(dist.bucket_counts))
        total = dist.mean * dist.count
        has_range = dist.HasField("range")
        return Distribution(
            count=int(dist.count),
            total=total,
            sumsq=dist.sum_of_squared_deviation + (total * total / dist.count if dist.count else 0),
            bounds=bounds,
            bucket_counts=tuple(counts),
            minimum=dist.range.min if has_range else dist.mean,
            maximum=dist.range.max if has_range else dist.mean,
        )
    return float(getattr(typed, which))


class WrittenSeriesService:
    """Writes time series into a ``WrittenSeriesStore`` and reads them for the engine."""

    def __init__(self, store: WrittenSeriesStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def create(self, project: str, series: Sequence[Any]) -> None:
        """CreateTimeSeries: write ``series`` (raw ``google.monitoring.v3.TimeSeries``)."""
        self._write(project, series, seeding=False)

    def seed(self, project: str, series: Sequence[Any]) -> int:
        """The emulator's seed: like ``create`` for any metric type; answers the count."""
        return self._write(project, series, seeding=True)

    def descriptors(self, project: str) -> list[WrittenDescriptor]:
        """The auto-created descriptors of ``project`` (``P``, not ``projects/P``)."""
        return self.store.descriptors(project)

    def delete_metric(self, project: str, metric_type: str) -> bool:
        """DeleteMetricDescriptor's effect here: the auto-created descriptor of
        ``metric_type`` and every series written to it are gone (a later write auto-creates
        it afresh); whether there was one."""
        return self.store.delete_metric(project, metric_type)

    def _write(self, project: str, series: Sequence[Any], seeding: bool) -> int:
        if not series:
            raise ApiError.invalid("Field timeSeries had an invalid value: at least one required")
        if len(series) > MAX_SERIES_PER_REQUEST:
            raise ApiError.invalid(
                f"Field timeSeries had an invalid value: at most {MAX_SERIES_PER_REQUEST} "
                f"TimeSeries can be written in one request, got {len(series)}."
            )
        points: list[NewPoint] = []
        problems: list[str] = []
        seen: set[str] = set()
        for index, one in enumerate(series):
            try:
                point = self._new_point(index, one, seeding)
            except ApiError as error:
                problems.append(error.message)
                continue
            identity = json.dumps(
                [
                    point.metric_type,
                    point.metric_labels,
                    point.resource_type,
                    point.resource_labels,
                ],
                sort_keys=True,
            )
            if identity in seen:
                problems.append(
                    f"Field timeSeries[{index}] had an invalid value: Duplicate TimeSeries "
                    "encountered. Only one point can be written per TimeSeries per request."
                )
            seen.add(identity)
            points.append(point)
        if problems:
            raise ApiError.invalid("; ".join(problems))

        def accept(
            point: NewPoint, descriptor: WrittenDescriptor | None, last: LastPoint | None
        ) -> str | None:
            return _refusal(point, descriptor, last, seeding)

        refused = self.store.append(project, points, accept)
        if refused:
            summary = _SummaryPb(
                total_point_count=len(points), success_point_count=len(points) - len(refused)
            )
            for _, reason in refused:
                summary.errors.add(
                    status=status_pb2.Status(code=_INVALID_ARGUMENT, message=reason),
                    point_count=1,
                )
            raise ApiError.invalid("; ".join(reason for _, reason in refused), [summary])
        return len(points)

    def _new_point(self, index: int, series: Any, seeding: bool) -> NewPoint:
        """One series as a point to append, or ``ApiError`` naming the bad field."""
        at = f"timeSeries[{index}]"
        metric_type = series.metric.type
        if not metric_type:
            raise ApiError.invalid(f"Field {at}.metric.type had an invalid value: required")
        if not seeding and not metric_type.startswith(WRITABLE_PREFIXES):
            raise ApiError.invalid(
                f'Field {at}.metric.type had an invalid value of "{metric_type}": only '
                "custom.googleapis.com/, external.googleapis.com/ and workload.googleapis.com/ "
                "metrics can be written (the emulator's timeSeries:seed endpoint takes any type)"
            )
        if not series.resource.type:
            raise ApiError.invalid(f"Field {at}.resource.type had an invalid value: required")
        if len(series.points) != 1:
            reason = (
                "Only one point can be written per TimeSeries per request."
                if series.points
                else "a TimeSeries must contain exactly one point."
            )
            raise ApiError.invalid(f"Field {at}.points had an invalid value: {reason}")
        point = series.points[0]
        if not point.interval.HasField("end_time"):
            raise ApiError.invalid(f"Field {at}.points[0].interval.end_time: required")
        which = point.value.WhichOneof("value")
        value_type = _VALUE_FIELDS.get(which or "", "")
        if value_type in ("", "STRING"):
            raise ApiError.invalid(
                f"Field {at}.points[0].value had an invalid value: a BOOL, INT64, DOUBLE or "
                "DISTRIBUTION value is required"
            )
        declared = _VALUE_TYPES.get(series.value_type, "")
        if declared and declared != value_type:
            raise ApiError.invalid(
                f'Field {at}.value_type had an invalid value of "{declared}": the point\'s '
                f"value is {value_type}"
            )
        if value_type == "DISTRIBUTION":
            dist = point.value.distribution_value
            if dist.bucket_counts and sum(dist.bucket_counts) != dist.count:
                raise ApiError.invalid(
                    f"Field {at}.points[0].value.distribution_value had an invalid value: "
                    f"count {dist.count} is not the sum of bucket_counts"
                )
        end_us = _micros(point.interval.end_time)
        if not seeding:
            self._check_window(at, end_us)
        has_start = point.interval.HasField("start_time")
        return NewPoint(
            index=index,
            metric_type=metric_type,
            metric_labels=dict(series.metric.labels),
            resource_type=series.resource.type,
            resource_labels=dict(series.resource.labels),
            metric_kind=_KINDS.get(series.metric_kind, ""),
            value_type=value_type,
            unit=series.unit,
            start_us=_micros(point.interval.start_time) if has_start else -1,
            end_us=end_us,
            value=point.value.SerializeToString(),
        )

    def _check_window(self, at: str, end_us: int) -> None:
        now = self.clock.now()
        end = _datetime(end_us)
        where = (
            f'Field {at}.points[0].interval.end_time had an invalid value of "{_rfc3339(end_us)}"'
        )
        if end < now - MAX_PAST:
            raise ApiError.invalid(
                f"{where}: Data points cannot be written more than 25h in the past."
            )
        if end > now + MAX_FUTURE:
            raise ApiError.invalid(
                f"{where}: Data points cannot be written more than 5m in the future."
            )

    def list_series(
        self,
        project: str,
        compiled: MonitoringFilter,
        start_s: float,
        end_s: float,
        with_previous: bool,
    ) -> list[tuple[TimeSeries, Point | None]]:
        """The written series of ``project`` matching ``compiled`` with points in
        ``(start_s, end_s]`` (at ``end_s`` when the two are equal), newest first.

        With ``with_previous``, a CUMULATIVE series also gets the newest point before the
        interval, which ALIGN_DELTA and ALIGN_RATE need to turn the first value into a delta.
        """
        start_us, end_us = round(start_s * 1e6), round(end_s * 1e6)
        first_end_us = start_us if start_us == end_us else start_us + 1
        result = []
        for stored in self.store.series(project, compiled.metric_types):
            descriptor = stored.descriptor
            view = {
                "project": project,
                "metric.type": descriptor.metric_type,
                "metric.labels": stored.metric_labels,
                "resource.type": stored.resource_type,
                "resource.labels": stored.resource_labels,
            }
            if not compiled.matches(view):
                continue
            previous_wanted = with_previous and descriptor.metric_kind == "CUMULATIVE"
            rows = self.store.points(stored.series_id, first_end_us, end_us, previous_wanted)
            previous = None
            if rows and rows[0].end_us < first_end_us:
                before = rows.pop(0)
                previous = self._point(before.start_us, before.end_us, before.value)
            if not rows:
                continue
            points = [self._point(r.start_us, r.end_us, r.value) for r in reversed(rows)]
            bucket_options = None
            if descriptor.value_type == "DISTRIBUTION":
                bucket_options = _typed(rows[-1].value).distribution_value.bucket_options
            series = TimeSeries(
                metric_type=descriptor.metric_type,
                metric_labels=dict(stored.metric_labels),
                resource_type=stored.resource_type,
                resource_labels=dict(stored.resource_labels),
                metric_kind=descriptor.metric_kind,
                value_type=descriptor.value_type,
                points=points,
                unit=descriptor.unit,
                bucket_options=bucket_options,
            )
            result.append((series, previous))
        return result

    @staticmethod
    def _point(start_us: int, end_us: int, value: bytes) -> Point:
        start = start_us if start_us >= 0 else end_us
        return Point(_datetime(start), _datetime(end_us), typed_value(_typed(value)))


def _typed(raw: bytes) -> Any:
    return _TypedValuePb.FromString(raw)


def _refusal(
    point: NewPoint, descriptor: WrittenDescriptor | None, last: LastPoint | None, seeding: bool
) -> str | None:
    """Why a well-formed point cannot be appended now, in Google's words; None if it can."""
    metric = point.metric_type
    if descriptor is not None:
        if point.metric_kind and point.metric_kind != descriptor.metric_kind:
            return _not_written(
                point,
                f"Metric kind for metric {metric} must be {descriptor.metric_kind}, "
                f"but is {point.metric_kind}.",
            )
        if point.value_type != descriptor.value_type:
            return _not_written(
                point,
                f"Value type for metric {metric} must be {descriptor.value_type}, "
                f"but is {point.value_type}.",
            )
        kind = descriptor.metric_kind
    else:
        kind = point.metric_kind or "GAUGE"
        if kind == "DELTA" and not seeding:
            return (
                f'Field timeSeries[{point.index}].metric_kind had an invalid value of "DELTA": '
                "an auto-created metric descriptor must be GAUGE or CUMULATIVE."
            )
    at = f"Field timeSeries[{point.index}].points[0].interval.start_time"
    end = _rfc3339(point.end_us)
    start = _rfc3339(point.start_us) if point.start_us >= 0 else ""
    if kind == "GAUGE" and point.start_us >= 0 and point.start_us != point.end_us:
        return (
            f'{at} had an invalid value of "{start}": The start time must be equal to the end '
            f"time ({end}) for the gauge metric '{metric}'."
        )
    if kind != "GAUGE" and not 0 <= point.start_us < point.end_us:
        return (
            f'{at} had an invalid value of "{start}": The start time must be before the end '
            f"time ({end}) for the non-gauge metric '{metric}'."
        )
    if last is None:
        return None
    if point.end_us <= last.end_us:
        older = "end"
    elif (kind == "CUMULATIVE" and point.start_us < last.start_us) or (
        kind == "DELTA" and point.start_us < last.end_us
    ):
        older = "start"
    else:
        return None
    return _not_written(
        point,
        f"Points must be written in order. One or more of the points specified had an older "
        f"{older} time than the most recent point.",
    )


def _not_written(point: NewPoint, reason: str) -> str:
    return (
        f"One or more TimeSeries could not be written: {reason}: "
        f"{_labels_text(point.resource_type, point.resource_labels)} "
        f"timeSeries[{point.index}]: {_labels_text(point.metric_type, point.metric_labels)}"
    )
