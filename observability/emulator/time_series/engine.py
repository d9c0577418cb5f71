"""The time-series query engine over log-based metrics: what ListTimeSeries answers.

A plain Python API, so the alert evaluator calls it in-process and the gRPC MetricService
only converts its answer to protobuf::

    engine = TimeSeriesEngine(log_metrics_service)
    series = engine.list_time_series(
        "my-project",
        'metric.type = "logging.googleapis.com/user/failures"',
        start, end,
        Aggregation(60, "ALIGN_DELTA", "REDUCE_SUM", ("metric.label.dag_id",)),
    )

Raw points are the metric's minute buckets: a DELTA point covering ``[minute, minute+60s)``
whose value is the count (counters, INT64) or a ``Distribution``. A raw point is in the
interval when its end time is in ``(start, end]`` (or, when ``start == end``, when the
interval contains ``end``). Alignment cuts ``(start, end]`` into periods ending at ``end``,
``end - period``, ...; a period without raw points has no aligned point. The aligners:
ALIGN_NONE (raw points), DELTA and SUM (sum; distributions are merged), RATE (sum per second),
COUNT (number of raw points), MEAN, MIN, MAX, PERCENTILE_99/95/50/05 (distributions only),
and for BOOL series COUNT_TRUE, COUNT_FALSE (INT64) and FRACTION_TRUE (DOUBLE in [0, 1]).
The reducers combine aligned points with the same end time across the series of one group
(``groupByFields``): REDUCE_NONE, SUM, COUNT, MEAN, MIN, MAX, PERCENTILE_99/95/50/05. Over
distributions (which Google documents for SUM, MEAN and the percentiles) the group's aligned
distributions are merged first: SUM answers the merged distribution, MEAN and the percentiles
a DOUBLE read from it, so a p95 across series is the p95 of all their values together, not a
percentile of per-series numbers. Only distributions over the same buckets merge. A reducer
needs an aligner, and every aligner a period. Percentiles of a distribution interpolate
linearly inside the bucket holding the rank, with the underflow and overflow buckets bounded
by the smallest and largest value seen.

Written series (``CreateTimeSeries`` and the emulator's seed, from a
``WrittenSeriesService``) are answered alongside, through the same filter, alignment and
reduction, keeping their own kind: a GAUGE point is an instant, a DELTA point the change over
its interval, a CUMULATIVE point the total since its start time. ALIGN_DELTA and ALIGN_RATE
read a CUMULATIVE series as the differences between successive points (a new start time is
a reset, whose first value counts from zero), so ALIGN_RATE is the increase per second. Which
aligner fits which kind is Google's: ALIGN_DELTA and ALIGN_RATE need DELTA or CUMULATIVE,
COUNT_TRUE, COUNT_FALSE and FRACTION_TRUE a GAUGE BOOL series, the others GAUGE or DELTA, and
a BOOL series takes only those three and ALIGN_COUNT.

A ``secondary_aggregation`` (ListTimeSeriesRequest's, and a dashboard's
``secondaryAggregation``) is applied to what ``aggregation`` answered, as Google documents
it: its aligner re-aligns the already aligned (and reduced) series over its own period, cut
from the interval's end like the first, then its reducer combines them by its
``groupByFields``. So ALIGN_RATE over a minute then ALIGN_MEAN over five is the mean of the
five per-minute rates, and the aligners that fit the second step are those that fit the
first step's output: a GAUGE after RATE, MEAN and the like, a DELTA after ALIGN_DELTA. It may
only be given with ``aggregation`` and obeys the same rules (a reducer needs an aligner,
an aligner a period). An alert condition's ``aggregations`` list is the same thing with any
number of steps: ``list_aggregated`` applies them in order.

Errors are ``ApiError`` (INVALID_ARGUMENT naming the field), as the gRPC layer answers them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from observability.emulator.common.errors import ApiError
from observability.emulator.common.monitoring_filter import (
    MonitoringFilterError,
    compile_monitoring_filter,
)
from observability.emulator.descriptors.rules import aligner_fits, aligner_refusal
from observability.emulator.log_metrics.model import CompiledMetric
from observability.emulator.log_metrics.service import LogMetricsService
from observability.emulator.log_metrics.store import MinutePoint, StoredSeries
from observability.emulator.time_series.model import Distribution, Point, TimeSeries, Value

if TYPE_CHECKING:
    from observability.emulator.time_series.service import WrittenSeriesService

ALIGNERS: Final = frozenset(
    {
        "ALIGN_NONE",
        "ALIGN_DELTA",
        "ALIGN_RATE",
        "ALIGN_SUM",
        "ALIGN_COUNT",
        "ALIGN_MEAN",
        "ALIGN_MIN",
        "ALIGN_MAX",
        "ALIGN_PERCENTILE_99",
        "ALIGN_PERCENTILE_95",
        "ALIGN_PERCENTILE_50",
        "ALIGN_PERCENTILE_05",
        "ALIGN_COUNT_TRUE",
        "ALIGN_COUNT_FALSE",
        "ALIGN_FRACTION_TRUE",
    }
)
REDUCERS: Final = frozenset(
    {
        "REDUCE_NONE",
        "REDUCE_SUM",
        "REDUCE_COUNT",
        "REDUCE_MEAN",
        "REDUCE_MIN",
        "REDUCE_MAX",
        "REDUCE_PERCENTILE_99",
        "REDUCE_PERCENTILE_95",
        "REDUCE_PERCENTILE_50",
        "REDUCE_PERCENTILE_05",
    }
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CHANGE_ALIGNERS: Final = frozenset({"ALIGN_DELTA", "ALIGN_RATE"})
_DISTRIBUTION_REDUCERS: Final = frozenset(
    {
        "REDUCE_SUM",
        "REDUCE_MEAN",
        "REDUCE_PERCENTILE_99",
        "REDUCE_PERCENTILE_95",
        "REDUCE_PERCENTILE_50",
        "REDUCE_PERCENTILE_05",
    }
)
"""The reducers Google documents as valid for distributions: they read the merged one."""
_BOOL_ALIGNERS: Final = frozenset({"ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE", "ALIGN_FRACTION_TRUE"})


@dataclass(frozen=True, slots=True)
class Aggregation:
    """Monitoring's Aggregation: period in seconds, aligner and reducer by enum name."""

    alignment_period: float | None = None
    per_series_aligner: str = "ALIGN_NONE"
    cross_series_reducer: str = "REDUCE_NONE"
    group_by_fields: tuple[str, ...] = ()


Stage = tuple[str, Aggregation]
"""One aggregation of a chain and the request field it came from ("aggregation",
"secondary_aggregation", "aggregations[1]"), which its errors name."""


def _ts(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _seconds(when: datetime) -> float:
    if when.tzinfo is None:
        raise ApiError.invalid("interval: times must be timezone-aware")
    return (when - _EPOCH).total_seconds()


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _raw_value(metric: CompiledMetric, point: MinutePoint) -> Value:
    if metric.bounds is None:
        return float(point.count)
    counts = [0] * (len(metric.bounds) + 1)
    for bucket, count in point.buckets.items():
        counts[bucket] = count
    return Distribution(
        count=point.count,
        total=point.total,
        sumsq=point.sumsq,
        bounds=metric.bounds,
        bucket_counts=tuple(counts),
        minimum=point.minv if point.minv is not None else 0.0,
        maximum=point.maxv if point.maxv is not None else 0.0,
    )


def _numbers(values: Sequence[Value], what: str) -> list[float]:
    """``values`` as numbers, for ``what`` ("FIELD: ALIGNER" or "FIELD: REDUCER")."""
    numbers = [v for v in values if not isinstance(v, Distribution)]
    if len(numbers) != len(values):
        raise ApiError.invalid(f"{what} does not apply to DISTRIBUTION values")
    return numbers


def _merged(values: Sequence[Value], what: str) -> Distribution:
    """The one distribution ``values`` add up to; refused unless all are distributions over
    the same bucket bounds, since bucket counts only add up bucket by bucket."""
    parts = [v for v in values if isinstance(v, Distribution)]
    if len(parts) != len(values):
        raise ApiError.invalid(f"{what} cannot combine DISTRIBUTION values with numeric ones")
    if any(part.bounds != parts[0].bounds for part in parts):
        raise ApiError.invalid(f"{what} cannot merge distributions with different bucket bounds")
    return Distribution.merge(parts)


def _percentile_rank(name: str) -> float:
    """The percentile an ALIGN_PERCENTILE_NN or REDUCE_PERCENTILE_NN asks for: NN."""
    return float(name.rsplit("_", 1)[1])


def _percentile_of(numbers: Sequence[float], p: float) -> float:
    ordered = sorted(numbers)
    if len(ordered) == 1:
        return ordered[0]
    position = p / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


class TimeSeriesEngine:
    """ListTimeSeries over the log-based metrics of a ``LogMetricsService`` and, when
    given, the written series of a ``WrittenSeriesService``."""

    def __init__(
        self, metrics: LogMetricsService, written: WrittenSeriesService | None = None
    ) -> None:
        self.metrics = metrics
        self.written = written
        self._series: dict[int, list[StoredSeries]] = {}
        self._generation = -1

    def _series_of(self, metric_ids: Sequence[int]) -> list[StoredSeries]:
        """The series of these metrics, cached until a series is created or deleted."""
        generation = self.metrics.series_generation
        if generation != self._generation:
            self._series = {}
            self._generation = generation
        result: list[StoredSeries] = []
        missing = [mid for mid in metric_ids if mid not in self._series]
        if missing:
            loaded: dict[int, list[StoredSeries]] = {mid: [] for mid in missing}
            for stored in self.metrics.store.series_of(missing):
                loaded[stored.metric_id].append(stored)
            self._series.update(loaded)
        for mid in metric_ids:
            result.extend(self._series[mid])
        return result

    def list_time_series(
        self,
        project: str,
        filter: str,
        start: datetime,
        end: datetime,
        aggregation: Aggregation | None = None,
        secondary_aggregation: Aggregation | None = None,
    ) -> list[TimeSeries]:
        """The series of ``project`` (``P`` or ``projects/P``) matching ``filter``, with
        points in ``(start, end]``, aligned and reduced as ``aggregation`` says, then as
        ``secondary_aggregation`` says: ListTimeSeriesRequest's two fields."""
        if secondary_aggregation is not None and aggregation is None:
            raise ApiError.invalid(
                "secondary_aggregation: may only be specified if aggregation is specified"
            )
        stages: list[Stage] = [("aggregation", aggregation or Aggregation())]
        if secondary_aggregation is not None:
            stages.append(("secondary_aggregation", secondary_aggregation))
        return self.list_aggregated(project, filter, start, end, stages)

    def list_aggregated(
        self,
        project: str,
        filter: str,
        start: datetime,
        end: datetime,
        stages: Sequence[Stage],
    ) -> list[TimeSeries]:
        """``list_time_series`` with a chain of aggregations, each applied to what the one
        before answered: an alert condition's ``aggregations``, which Google applies in
        order. The first step that aligns reads the raw points; no steps: raw series."""
        parent = project if project.startswith("projects/") else f"projects/{project}"
        try:
            compiled = compile_monitoring_filter(filter)
        except MonitoringFilterError as error:
            raise ApiError.invalid(f"filter: {error}") from error
        if not compiled.mentions_metric_type:
            raise ApiError.invalid('filter: must restrict metric.type (metric.type = "...")')
        start_s, end_s = _seconds(start), _seconds(end)
        if start_s > end_s:
            raise ApiError.invalid("interval: start_time must not be after end_time")
        for field_name, aggregation in stages:
            self._check(field_name, aggregation)
        # a step without an aligner has no reducer either (checked): it leaves series as is
        aligning = [(name, a) for name, a in stages if a.per_series_aligner != "ALIGN_NONE"]
        # the first aligning step reads the raw points: ALIGN_DELTA and ALIGN_RATE read a
        # CUMULATIVE series as the differences between its points
        first_field, first = aligning[0] if aligning else ("", Aggregation())
        reads_changes = first.per_series_aligner in _CHANGE_ALIGNERS
        series = self._raw_series(parent, compiled, start_s, end_s)
        if self.written is not None:
            for one, previous in self.written.list_series(
                parent.removeprefix("projects/"),
                compiled,
                start_s,
                end_s,
                with_previous=reads_changes,
            ):
                if one.metric_kind == "CUMULATIVE" and reads_changes:
                    one = _as_deltas(one, previous, first_field)
                series.append(one)
        for field_name, aggregation in aligning:
            for one in series:
                _check_aligner(field_name, aggregation.per_series_aligner, one)
            period = float(aggregation.alignment_period or 0)
            aligned = (
                self._align(one, field_name, aggregation, start_s, end_s, period) for one in series
            )
            series = [one for one in aligned if one]
            if aggregation.cross_series_reducer != "REDUCE_NONE":
                series = self._reduce(series, field_name, aggregation)
        return series

    @staticmethod
    def _check(field_name: str, aggregation: Aggregation) -> None:
        aligner, reducer = aggregation.per_series_aligner, aggregation.cross_series_reducer
        if aligner not in ALIGNERS:
            raise ApiError.invalid(f"{field_name}.per_series_aligner: {aligner} is not supported")
        if reducer not in REDUCERS:
            raise ApiError.invalid(f"{field_name}.cross_series_reducer: {reducer} is not supported")
        if reducer != "REDUCE_NONE" and aligner == "ALIGN_NONE":
            raise ApiError.invalid(
                f"{field_name}.per_series_aligner: a cross-series reducer needs an aligner"
            )
        if aligner != "ALIGN_NONE" and not (aggregation.alignment_period or 0) > 0:
            raise ApiError.invalid(
                f"{field_name}.alignment_period: required (and positive) with an aligner"
            )
        for name in aggregation.group_by_fields:
            _group_reader(field_name, name)

    def _raw_series(
        self, parent: str, compiled: Any, start_s: float, end_s: float
    ) -> list[TimeSeries]:
        metrics = {
            m.metric_id: m
            for m in self.metrics.metrics_of(parent)
            if compiled.metric_types is None or m.type in compiled.metric_types
        }
        project = parent.removeprefix("projects/")
        chosen = []
        for stored in self._series_of(list(metrics)):
            metric = metrics[stored.metric_id]
            labels = {key: _label_text(value) for key, value in stored.labels.items()}
            view = {
                "project": project,
                "metric.type": metric.type,
                "metric.labels": labels,
                "resource.type": stored.resource_type,
                "resource.labels": stored.resource_labels,
            }
            if compiled.matches(view):
                chosen.append((stored, metric, labels))
        first_minute = int(start_s // 60 * 60) - 60
        points = self.metrics.store.points(
            [s.series_id for s, _, _ in chosen], first_minute, int(end_s)
        )
        result = []
        for stored, metric, labels in chosen:
            selected = []
            for point in points[stored.series_id]:
                p_start, p_end = point.minute, point.minute + 60
                inside = p_start < end_s <= p_end if start_s == end_s else start_s < p_end <= end_s
                if inside:
                    selected.append(Point(_ts(p_start), _ts(p_end), _raw_value(metric, point)))
            if not selected:
                continue
            selected.reverse()
            descriptor = metric.metric.metric_descriptor
            result.append(
                TimeSeries(
                    metric_type=metric.type,
                    metric_labels=labels,
                    resource_type=stored.resource_type,
                    resource_labels=dict(stored.resource_labels),
                    metric_kind="DELTA",
                    value_type="DISTRIBUTION" if metric.bounds is not None else "INT64",
                    points=selected,
                    unit=descriptor.unit,
                    bucket_options=metric.metric.bucket_options if metric.bounds else None,
                )
            )
        return result

    @staticmethod
    def _align(
        series: TimeSeries,
        field_name: str,
        aggregation: Aggregation,
        start_s: float,
        end_s: float,
        period: float,
    ) -> TimeSeries | None:
        """``series`` aligned: one point per period with points, periods cut back from
        ``end_s``; a series already aligned (a secondary aggregation) is re-aligned alike."""
        aligner = aggregation.per_series_aligner
        what = f"{field_name}: {aligner}"
        points: list[Point] = []
        window_end = end_s
        while True:
            window_start = window_end - period
            members = [
                p.value for p in series.points if window_start < _seconds(p.end) <= window_end
            ]
            if members:
                points.append(
                    _aligned_point(what, aligner, members, window_start, window_end, period)
                )
            window_end -= period
            if window_end <= start_s:
                break
        if not points:
            return None
        value_type = _aligned_value_type(aligner, series.value_type)
        return TimeSeries(
            metric_type=series.metric_type,
            metric_labels=dict(series.metric_labels),
            resource_type=series.resource_type,
            resource_labels=series.resource_labels,
            metric_kind="DELTA" if aligner == "ALIGN_DELTA" else "GAUGE",
            value_type=value_type,
            points=points,
            unit=series.unit if aligner != "ALIGN_RATE" else f"{series.unit or '1'}/s",
            bucket_options=series.bucket_options if value_type == "DISTRIBUTION" else None,
        )

    @staticmethod
    def _reduce(
        series: list[TimeSeries], field_name: str, aggregation: Aggregation
    ) -> list[TimeSeries]:
        reducer = aggregation.cross_series_reducer
        what = f"{field_name}: {reducer}"
        readers = [(name, _group_reader(field_name, name)) for name in aggregation.group_by_fields]
        groups: dict[tuple[str, ...], list[TimeSeries]] = {}
        for one in series:
            key = tuple(read(one) for _, read in readers)
            groups.setdefault(key, []).append(one)
        result = []
        for key, members in groups.items():
            by_end: dict[datetime, list[Point]] = {}
            for member in members:
                for point in member.points:
                    by_end.setdefault(point.end, []).append(point)
            points = [
                Point(group[0].start, end, _reduce_values(what, reducer, [p.value for p in group]))
                for end, group in sorted(by_end.items(), reverse=True)
            ]
            metric_labels: dict[str, str] = {}
            resource_labels: dict[str, str] = {}
            for (name, _), value in zip(readers, key, strict=True):
                kind, label = _split_group_field(field_name, name)
                if kind == "metric.labels" and label:
                    metric_labels[label] = value
                elif kind == "resource.labels" and label:
                    resource_labels[label] = value
            resource_types = {m.resource_type for m in members}
            first = members[0]
            value_type = first.value_type
            if reducer == "REDUCE_COUNT":
                value_type = "INT64"
            elif reducer in ("REDUCE_MEAN",) or reducer.startswith("REDUCE_PERCENTILE"):
                value_type = "DOUBLE"
            result.append(
                TimeSeries(
                    metric_type=first.metric_type,
                    metric_labels=metric_labels,
                    resource_type=resource_types.pop() if len(resource_types) == 1 else "",
                    resource_labels=resource_labels,
                    metric_kind=first.metric_kind,
                    value_type=value_type,
                    points=points,
                    unit=first.unit,
                    bucket_options=first.bucket_options if value_type == "DISTRIBUTION" else None,
                )
            )
        result.sort(key=lambda s: (sorted(s.metric_labels.items()), s.resource_type))
        return result


def _check_aligner(field_name: str, aligner: str, series: TimeSeries) -> None:
    """Refuse an aligner the series' kind and value type do not take, as Google does; for a
    secondary aggregation, the series is what the first aggregation answered."""
    if not aligner_fits(aligner, series.metric_kind, series.value_type):
        raise aligner_refusal(
            f"{_json_name(field_name)}.perSeriesAligner",
            aligner,
            series.metric_kind,
            series.value_type,
        )


def _json_name(field_name: str) -> str:
    """A request field as Google's "Field ... had an invalid value" errors spell it:
    secondary_aggregation -> secondaryAggregation."""
    head, *rest = field_name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _as_deltas(series: TimeSeries, previous: Point | None, field_name: str) -> TimeSeries:
    """A CUMULATIVE series as DELTA points: each the increase since the point before it
    (or since its start time, after a reset or when it is the first point)."""
    deltas: list[Point] = []
    prior = previous
    for point in reversed(series.points):
        if isinstance(point.value, Distribution):
            raise ApiError.invalid(
                f"{field_name}.per_series_aligner: ALIGN_DELTA of a CUMULATIVE DISTRIBUTION "
                "series is not supported by the emulator"
            )
        if (
            prior is not None
            and prior.start == point.start
            and isinstance(prior.value, float)
            and point.value >= prior.value
        ):
            deltas.append(Point(prior.end, point.end, point.value - prior.value))
        else:
            deltas.append(Point(point.start, point.end, point.value))
        prior = point
    deltas.reverse()
    return replace(series, metric_kind="DELTA", points=deltas)


def _aligned_value_type(aligner: str, value_type: str) -> str:
    if aligner in ("ALIGN_DELTA", "ALIGN_SUM"):
        return value_type
    if aligner in ("ALIGN_COUNT", "ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE"):
        return "INT64"
    if aligner in ("ALIGN_MIN", "ALIGN_MAX"):
        return value_type
    return "DOUBLE"


def _aligned_point(
    what: str,
    aligner: str,
    members: list[Value],
    window_start: float,
    window_end: float,
    period: float,
) -> Point:
    value: Value
    if aligner in ("ALIGN_DELTA", "ALIGN_SUM"):
        if isinstance(members[0], Distribution):
            value = _merged(members, what)
        else:
            value = sum(_numbers(members, what))
    elif aligner == "ALIGN_RATE":
        value = sum(_numbers(members, what)) / period
    elif aligner == "ALIGN_COUNT":
        value = float(len(members))
    elif aligner in _BOOL_ALIGNERS:
        truths = [bool(v) for v in _numbers(members, what)]
        if aligner == "ALIGN_COUNT_TRUE":
            value = float(truths.count(True))
        elif aligner == "ALIGN_COUNT_FALSE":
            value = float(truths.count(False))
        else:
            value = truths.count(True) / len(truths)
    elif aligner == "ALIGN_MEAN":
        if isinstance(members[0], Distribution):
            value = _merged(members, what).mean
        else:
            numbers = _numbers(members, what)
            value = sum(numbers) / len(numbers)
    elif aligner == "ALIGN_MIN":
        value = min(_numbers(members, what))
    elif aligner == "ALIGN_MAX":
        value = max(_numbers(members, what))
    else:  # ALIGN_PERCENTILE_NN
        if not isinstance(members[0], Distribution):
            raise ApiError.invalid(f"{what} applies to DISTRIBUTION metrics only")
        value = _merged(members, what).percentile(_percentile_rank(aligner))
    start = window_start if aligner == "ALIGN_DELTA" else window_end
    return Point(_ts(start), _ts(window_end), value)


def _reduce_values(what: str, reducer: str, values: list[Value]) -> Value:
    if reducer == "REDUCE_COUNT":
        return float(len(values))
    if isinstance(values[0], Distribution) and reducer in _DISTRIBUTION_REDUCERS:
        merged = _merged(values, what)
        if reducer == "REDUCE_SUM":
            return merged
        if reducer == "REDUCE_MEAN":
            return merged.mean
        return merged.percentile(_percentile_rank(reducer))
    if reducer == "REDUCE_SUM":
        return sum(_numbers(values, what))
    numbers = _numbers(values, what)
    if reducer == "REDUCE_MEAN":
        return sum(numbers) / len(numbers)
    if reducer == "REDUCE_MIN":
        return min(numbers)
    if reducer == "REDUCE_MAX":
        return max(numbers)
    return _percentile_of(numbers, _percentile_rank(reducer))


_GROUP_PREFIXES: Final = (
    ("metric.label.", "metric.labels"),
    ("metric.labels.", "metric.labels"),
    ("resource.label.", "resource.labels"),
    ("resource.labels.", "resource.labels"),
)
_SHORT_GROUP_FIELD: Final = re.compile(r"(metric|resource)\.([A-Za-z_][A-Za-z0-9_]*)")


def _split_group_field(field_name: str, name: str) -> tuple[str, str | None]:
    """``(what, label key)`` of a ``groupByFields`` entry.

    Besides ``metric.label.KEY`` and ``resource.label.KEY`` (and ``labels``), Google takes
    the short ``resource.KEY`` and ``metric.KEY``: its samples group by ``resource.zone``
    and the client's ``Query.reduce`` documents that form (python-monitoring
    ``monitoring_v3/query.py``; the samples' system tests run it against Google).
    """
    if name in ("metric.type", "resource.type"):
        return name, None
    for prefix, kind in _GROUP_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind, name[len(prefix) :]
    short = _SHORT_GROUP_FIELD.fullmatch(name)
    if short and short[2] not in ("label", "labels"):
        return f"{short[1]}.labels", short[2]
    raise ApiError.invalid(
        f"{field_name}.group_by_fields: {name!r} is not metric.label.KEY, "
        "resource.label.KEY (or the short metric.KEY, resource.KEY), metric.type or "
        "resource.type"
    )


def _group_reader(field_name: str, name: str) -> Any:
    kind, label = _split_group_field(field_name, name)
    if kind == "metric.labels":
        return lambda s: s.metric_labels.get(label, "")
    if kind == "resource.labels":
        return lambda s: s.resource_labels.get(label, "")
    if kind == "metric.type":
        return lambda s: s.metric_type
    return lambda s: s.resource_type
