"""Each widget's data, asked of Cloud Monitoring and Cloud Logging as the console would.

The questions go through the real Google clients from ``observability.gcp``, so the same
code previews a dashboard against the emulator (``COMPOSER_OBS_EMULATOR``) or a real project:

- chart, scorecard, pie and table queries (``timeSeriesFilter``: filter, aggregation,
  secondary aggregation) are one ListTimeSeries each over the window; a
  ``timeSeriesFilterRatio`` is two (numerator, denominator) joined by their labels;
  ``dashboardFilters`` narrow them as the console does (see ``DashboardFilter``);
- ``logsPanel`` is ``ListLogEntries`` with its filter, limited to the window, newest first;
- ``incidentList`` reads the emulator's incidents (Cloud Monitoring has no public API for
  them, so against a real project the tile says so);
- MQL and PromQL queries are not answered by the preview: their data set carries the reason
  and the tile shows it instead of failing the whole dashboard. A query the API refuses is
  shown the same way, with the API's message.

The window ends at the emulator's "now" (its clock can be moved by tests and the demo), or at
wall time for a real project, unless an end is given.

An API that cannot be reached fails the render at once with one line naming it: calls are
retried only briefly (``EMULATOR_RETRY_S`` for the emulator, a local process that answers or
is down; ``API_TIMEOUT_S`` for Google), not for the clients' default minute and a half.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

import httpx

from observability import gcp
from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.widgets import check_filters
from observability.gcp import Endpoint

if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.monitoring_v3 import MetricServiceClient

QUERY_LANGUAGES: Final = ("timeSeriesQueryLanguage", "prometheusQuery", "opsAnalyticsQuery")
NOT_DATA_KEYS: Final = frozenset({"title", "id", "visibilityCondition"})
STRUCTURAL: Final = frozenset({"blank", "collapsibleGroup", "sectionHeader", "singleViewGroup"})
"""Widgets that hold no data: drawn as an empty frame or a header."""
DATA_SET_KINDS: Final = frozenset({"xyChart", "pieChart", "timeSeriesTable"})
LOG_LINES: Final = 50
TOLD_FIRST: Final = ("event_type", "dag_id", "task_id", "state", "service", "outcome")
UNTOLD_FIELDS: Final = frozenset({"event_id", "timestamp", "schema_version", "insertId"})
"""Fields of a structured entry a logs panel row leaves out (the time has its own column)."""
API_TIMEOUT_S: Final = 30.0
EMULATOR_RETRY_S: Final = 2.0
_DROPPED: Final = "\x00"
"""Stands for a ``${var}`` set to ``*`` until the ``AND`` that joined it is removed."""


@dataclass(frozen=True)
class Window:
    """The time range every widget shows: ``(start, end]``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Series:
    """One line (or bar stack member): its legend label and points, oldest first."""

    label: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class DataSet:
    """What one query returned; ``problem`` says why it has no data when it could not run."""

    plot_type: str = "LINE"
    target_axis: str = "Y1"
    period_s: float | None = None
    series: tuple[Series, ...] = ()
    problem: str | None = None

    @property
    def points(self) -> int:
        return sum(len(s.values) for s in self.series)


@dataclass(frozen=True)
class LogLine:
    """One log entry of a logs panel."""

    time: datetime | None
    severity: str
    text: str


@dataclass(frozen=True)
class IncidentLine:
    """One incident of an incident list."""

    state: str
    policy: str
    condition: str
    started: datetime | None


@dataclass(frozen=True)
class TileData:
    """A widget with everything needed to draw it."""

    kind: str
    title: str
    widget: Mapping[str, Any]
    window: Window
    datasets: tuple[DataSet, ...] = ()
    logs: tuple[LogLine, ...] = ()
    incidents: tuple[IncidentLine, ...] = ()
    message: str | None = None
    """Why the tile cannot show what it asks for (a kind the preview does not draw...)."""

    @property
    def spec(self) -> Mapping[str, Any]:
        """The widget's content (``widget[kind]``)."""
        value = self.widget.get(self.kind, {})
        return value if isinstance(value, Mapping) else {}

    @property
    def points(self) -> int:
        """Plotted points, log lines or incidents: what a reader can check was drawn."""
        return sum(d.points for d in self.datasets) + len(self.logs) + len(self.incidents)

    @property
    def problems(self) -> list[str]:
        found = [d.problem for d in self.datasets if d.problem]
        return list(dict.fromkeys([self.message, *found] if self.message else found))

    @property
    def status(self) -> str:
        """``ok`` (has data), ``static`` (text, headers), ``no-data``, ``unsupported``."""
        if self.points:
            return "ok"
        if self.problems:
            return "unsupported"
        if self.kind in STRUCTURAL or self.kind == "text":
            return "static"
        return "no-data"


def widget_kind(widget: Mapping[str, Any]) -> str:
    """The widget's content kind (``xyChart``, ``text``...); ``blank`` when it has none."""
    return next((key for key in widget if key not in NOT_DATA_KEYS), "blank")


def parse_duration(text: Any) -> float | None:
    """Seconds of a proto3 JSON duration (``"60s"``, ``"1.5s"``); None when absent or bad."""
    if isinstance(text, str) and re.fullmatch(r"\d+(\.\d+)?s", text.strip()):
        return float(text.strip()[:-1])
    return None


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def window_ending(end: datetime | None, length: timedelta, endpoint: Endpoint) -> Window:
    """The window of ``length`` ending at ``end``, else at the emulator's clock, else now."""
    if end is None and endpoint.emulated:
        url = f"{endpoint.http_url}/v1/emulator/clock"
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            end = _utc(response.json()["now"])
        except (httpx.HTTPError, KeyError, ValueError) as error:
            raise RenderError(f"cannot read the emulator's clock at {url}: {error}") from error
    end = end or datetime.now(timezone.utc)
    if end.tzinfo is None:
        raise RenderError(f"the window's end must have a time zone, got {end.isoformat()}")
    return Window(end - length, end)


@dataclass(frozen=True)
class DashboardFilter:
    """One of ``dashboardFilters``: a label (of the metric or the resource) and its value.

    Without ``templateVariable`` it is a pinned filter: it narrows every chart whose series
    carry the label. With one it is a variable: it narrows only the queries that name it
    (``${team}`` in a filter is replaced by the label's clause). A filter without a value
    (``*``) narrows nothing.
    """

    kind: str
    key: str
    value: str | None
    variable: str | None

    @property
    def clause(self) -> str:
        return f"{self.kind}.label.{self.key} = {json.dumps(self.value)}"


def dashboard_filters(
    dashboard: Mapping[str, Any], origin: str = "<dashboard>"
) -> tuple[DashboardFilter, ...]:
    """The metric and resource label filters of ``dashboard``; a filter of the wrong shape
    raises ``RenderError`` naming ``origin``."""
    found = []
    for item in check_filters(dashboard, origin).dashboardFilters or []:
        kind = {"METRIC_LABEL": "metric", "RESOURCE_LABEL": "resource"}.get(item.filterType or "")
        if kind and item.labelKey:
            value = item.stringValue
            found.append(
                DashboardFilter(
                    kind,
                    item.labelKey,
                    value if value not in (None, "", "*") else None,
                    item.templateVariable or None,
                )
            )
    return tuple(found)


@dataclass
class _Fetched:
    """A series as returned, before its points are joined or labelled."""

    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    points: dict[datetime, float]

    @property
    def key(self) -> tuple[Any, ...]:
        return (
            tuple(sorted(self.metric_labels.items())),
            tuple(sorted(self.resource_labels.items())),
        )


_TEMPLATE = re.compile(r"\$\{([^}]*)\}")


def legend(template: str | None, series: _Fetched) -> str:
    """The series' label: ``legendTemplate`` with ``${metric.labels.KEY}`` and the like
    filled in, else its varying label values, else the metric's last name part."""
    if template:

        def fill(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            for prefix, labels in (
                ("metric.labels.", series.metric_labels),
                ("metric.label.", series.metric_labels),
                ("resource.labels.", series.resource_labels),
                ("resource.label.", series.resource_labels),
            ):
                if name.startswith(prefix):
                    return labels.get(name[len(prefix) :], "")
            return {"metric.type": series.metric_type, "resource.type": series.resource_type}.get(
                name, ""
            )

        return _TEMPLATE.sub(fill, template).strip() or series.metric_type.rsplit("/", 1)[-1]
    values = [*series.metric_labels.values()]
    values += [v for k, v in series.resource_labels.items() if k != "project_id"]
    return " ".join(v for v in values if v) or series.metric_type.rsplit("/", 1)[-1]


def _value(value: Any) -> float | None:
    kind = value._pb.WhichOneof("value")
    if kind == "distribution_value":
        distribution = value.distribution_value
        return float(distribution.mean) if distribution.count else None
    if kind in ("int64_value", "double_value"):
        return float(getattr(value, kind))
    if kind == "bool_value":
        return 1.0 if value.bool_value else 0.0
    return None


class DataSource:
    """Fetches widgets' data from one project; clients are opened on first use."""

    def __init__(
        self,
        project: str,
        endpoint: Endpoint,
        window: Window,
        filters: Sequence[DashboardFilter] = (),
    ) -> None:
        self.project = project
        self.endpoint = endpoint
        self.window = window
        self.filters = tuple(filters)
        self._monitoring: MetricServiceClient | None = None
        self._labelled: dict[tuple[str, str, str], bool] = {}
        self._logging: LoggingServiceV2Client | None = None

    def close(self) -> None:
        """Close the clients' channels (each client opened is one gRPC channel)."""
        for client in (self._monitoring, self._logging):
            if client is not None:
                client.transport.close()

    def _retry(self) -> Retry:
        """Retry an unavailable API briefly: a render is interactive, and the emulator is a
        local process that either answers or is not running."""
        from google.api_core import exceptions
        from google.api_core.retry import Retry, if_exception_type

        return Retry(
            predicate=if_exception_type(exceptions.ServiceUnavailable),
            initial=0.1,
            maximum=1.0,
            timeout=EMULATOR_RETRY_S if self.endpoint.emulated else API_TIMEOUT_S,
        )

    def _unreachable(self, service: str, host: str, error: Exception) -> RenderError:
        """One line for an API that could not be reached, naming the emulator's address or
        Google's ``host`` (``RetryError`` wraps the last ``ServiceUnavailable``)."""
        cause = getattr(error, "cause", None) or error
        message = " ".join(str(getattr(cause, "message", None) or cause).split())
        where = self.endpoint.grpc_target or host
        return RenderError(f"cannot reach {service} at {where}: {message}")

    # -- widgets -------------------------------------------------------------------

    def tile(self, widget: Mapping[str, Any]) -> TileData:
        """The data of one widget (no request for widgets without data)."""
        kind = widget_kind(widget)
        title = str(widget.get("title") or "")
        base = TileData(kind=kind, title=title, widget=widget, window=self.window)
        spec = base.spec
        if kind in DATA_SET_KINDS:
            sets = spec.get("dataSets") or []
            return replace(base, datasets=tuple(self._data_set(s) for s in sets))
        if kind == "scorecard":
            query = spec.get("timeSeriesQuery") or {}
            return replace(base, datasets=(self._query(query, "SCORECARD", "Y1", None),))
        if kind == "logsPanel":
            return self._logs(base)
        if kind == "incidentList":
            if not self.endpoint.emulated:
                message = "incidents are listed from the emulator only (no public API for them)"
                return replace(base, message=message)
            return replace(base, incidents=tuple(self._incidents(spec)))
        if kind == "text" or kind in STRUCTURAL:
            return base
        return replace(base, message=f"{kind} is not drawn by the preview")

    def _data_set(self, spec: Mapping[str, Any]) -> DataSet:
        return self._query(
            spec.get("timeSeriesQuery") or {},
            str(spec.get("plotType") or "LINE"),
            str(spec.get("targetAxis") or "Y1"),
            spec.get("legendTemplate"),
            parse_duration(spec.get("minAlignmentPeriod")),
        )

    # -- time series ---------------------------------------------------------------

    def _query(
        self,
        query: Mapping[str, Any],
        plot_type: str,
        axis: str,
        template: str | None,
        min_period: float | None = None,
    ) -> DataSet:
        from google.api_core import exceptions

        found = DataSet(plot_type=plot_type, target_axis=axis)
        language = next((k for k in QUERY_LANGUAGES if k in query), None)
        if language:
            return replace(
                found, problem=f"query language not supported by the preview ({language})"
            )
        try:
            # the shapes are checked (widgets.py); null is the one other value left
            if (single := query.get("timeSeriesFilter")) is not None:
                fetched, period = self._filter(single, min_period)
            elif (ratio := query.get("timeSeriesFilterRatio")) is not None:
                fetched, period = self._ratio(ratio, min_period)
            else:
                return replace(found, problem="the query has no timeSeriesFilter")
        except (exceptions.RetryError, exceptions.ServiceUnavailable) as error:
            raise self._unreachable(
                "Cloud Monitoring", "monitoring.googleapis.com", error
            ) from error
        except exceptions.GoogleAPICallError as error:
            return replace(found, problem=_refused(error))
        except BadAggregation as error:
            return replace(found, problem=f"bad aggregation: {error}")
        series = tuple(
            Series(
                legend(template, f),
                tuple(sorted(f.points)),
                tuple(v for _, v in sorted(f.points.items())),
            )
            for f in fetched
            if f.points
        )
        return replace(found, series=series, period_s=period)

    def _filter(
        self, spec: Mapping[str, Any], min_period: float | None
    ) -> tuple[list[_Fetched], float | None]:
        return self._list(
            str(spec.get("filter") or ""),
            spec.get("aggregation"),
            spec.get("secondaryAggregation"),
            min_period,
        )

    def _ratio(
        self, spec: Mapping[str, Any], min_period: float | None
    ) -> tuple[list[_Fetched], float | None]:
        """Numerator over denominator, per label set and time; a time with a denominator
        but no numerator counts as zero (no errors is a ratio of 0, not a gap)."""
        numerator, _ = self._filter(spec.get("numerator") or {}, min_period)
        denominator, period = self._filter(spec.get("denominator") or {}, min_period)
        over = {n.key: n.points for n in numerator}
        result = []
        for below in denominator:
            above = over.get(below.key, {})
            points = {t: above.get(t, 0.0) / v for t, v in below.points.items() if v}
            result.append(
                _Fetched(
                    below.metric_type,
                    below.metric_labels,
                    below.resource_type,
                    below.resource_labels,
                    points,
                )
            )
        return result, period

    def _list(
        self,
        filter: str,
        aggregation: Mapping[str, Any] | None,
        secondary: Mapping[str, Any] | None,
        min_period: float | None,
    ) -> tuple[list[_Fetched], float | None]:
        request = self._request(self.filtered(filter))
        period = None
        if aggregation:
            request.aggregation, period = _aggregation(aggregation, min_period)
        if secondary and _has_effect(secondary):
            request.secondary_aggregation, second = _aggregation(secondary, min_period)
            period = second or period
        result = []
        answer = self._api().list_time_series(
            request=request, retry=self._retry(), timeout=API_TIMEOUT_S
        )
        for one in answer:
            points = {}
            for point in one.points:
                value = _value(point.value)
                if value is not None:
                    points[point.interval.end_time] = value
            result.append(
                _Fetched(
                    one.metric.type,
                    dict(one.metric.labels),
                    one.resource.type,
                    dict(one.resource.labels),
                    points,
                )
            )
        return result, period

    def _api(self) -> MetricServiceClient:
        if self._monitoring is None:
            self._monitoring = gcp.monitoring_metric_api(self.endpoint)
        return self._monitoring

    def _request(self, filter: str, headers_only: bool = False) -> Any:
        from google.cloud import monitoring_v3

        view = monitoring_v3.ListTimeSeriesRequest.TimeSeriesView
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}",
            filter=filter,
            interval=monitoring_v3.TimeInterval(
                start_time=self.window.start, end_time=self.window.end
            ),
            view=view.HEADERS if headers_only else view.FULL,
        )

    def filtered(self, filter: str) -> str:
        """``filter`` with the dashboard's variables replaced and its pinned filters added
        where the series carry their label. A variable set to ``*`` narrows nothing: its
        ``${var}`` goes, with the ``AND`` that joined it to the rest."""
        values = {f.variable: f for f in self.filters if f.variable}

        def fill(match: re.Match[str]) -> str:
            found = values.get(match.group(1))
            if found is None:
                return match.group(0)
            return found.clause if found.value else _DROPPED

        text = _TEMPLATE.sub(fill, filter)
        text = re.sub(rf"\s*\bAND\s+{_DROPPED}|{_DROPPED}\s+AND\b\s*|{_DROPPED}", "", text)
        text = text.strip()
        pinned = [
            f.clause
            for f in self.filters
            if not f.variable and f.value and self._carries(text, f.kind, f.key)
        ]
        if not pinned:
            return text
        body = f"({text})" if re.search(r"\bOR\b", text) else text
        return " AND ".join([body, *pinned])

    def _carries(self, filter: str, kind: str, key: str) -> bool:
        """Whether any series of ``filter`` has the label (the console applies a pinned
        filter only to widgets whose data has its label); asked once per filter."""
        cache = (filter, kind, key)
        if cache not in self._labelled:
            self._labelled[cache] = any(
                key in (one.metric.labels if kind == "metric" else one.resource.labels)
                for one in self._api().list_time_series(
                    request=self._request(filter, headers_only=True),
                    retry=self._retry(),
                    timeout=API_TIMEOUT_S,
                )
            )
        return self._labelled[cache]

    # -- logs and incidents ----------------------------------------------------------

    def _logs(self, base: TileData) -> TileData:
        """The panel's newest entries; a filter the API refuses is the tile's message."""
        from google.api_core import exceptions
        from google.cloud.logging_v2.types import ListLogEntriesRequest, LogEntry
        from google.protobuf.json_format import MessageToDict

        spec = base.spec
        if self._logging is None:
            self._logging = gcp.logging_api(self.endpoint)
        start = self.window.start.isoformat().replace("+00:00", "Z")
        end = self.window.end.isoformat().replace("+00:00", "Z")
        terms = [f'timestamp > "{start}"', f'timestamp <= "{end}"']
        text = str(spec.get("filter") or "").strip()
        request = ListLogEntriesRequest(
            resource_names=spec.get("resourceNames") or [f"projects/{self.project}"],
            filter=" AND ".join([f"({text})", *terms] if text else terms),
            order_by="timestamp desc",
            page_size=LOG_LINES,
        )
        try:
            pages = self._logging.list_log_entries(
                request=request, retry=self._retry(), timeout=API_TIMEOUT_S
            )
            entries = [MessageToDict(LogEntry.pb(e)) for e in islice(pages, LOG_LINES)]
        except (exceptions.RetryError, exceptions.ServiceUnavailable) as error:
            raise self._unreachable("Cloud Logging", "logging.googleapis.com", error) from error
        except exceptions.GoogleAPICallError as error:
            return replace(base, message=_refused(error))
        lines = tuple(
            LogLine(
                _utc(entry["timestamp"]) if "timestamp" in entry else None,
                str(entry.get("severity", "DEFAULT")),
                _entry_text(
                    entry.get("jsonPayload", entry.get("textPayload", entry.get("protoPayload")))
                ),
            )
            for entry in entries
        )
        return replace(base, logs=lines)

    def _incidents(self, spec: Mapping[str, Any]) -> Iterable[IncidentLine]:
        url = f"{self.endpoint.http_url}/v1/emulator/projects/{self.project}/incidents"
        try:
            response = httpx.get(url, timeout=API_TIMEOUT_S)
            response.raise_for_status()
            incidents = response.json().get("incidents", [])
        except (httpx.HTTPError, ValueError) as error:
            raise RenderError(f"cannot read incidents at {url}: {error}") from error
        wanted = set(spec.get("policyNames") or [])
        chosen = [i for i in incidents if not wanted or i.get("policy") in wanted]
        chosen.sort(key=lambda i: (i.get("state") != "open", -(i.get("startedAt") or 0)))
        for incident in chosen:
            started = incident.get("startedAt")
            yield IncidentLine(
                state=str(incident.get("state", "")),
                policy=str(incident.get("policyDisplayName") or incident.get("policy", "")),
                condition=str(incident.get("condition", "")),
                started=datetime.fromtimestamp(started, timezone.utc) if started else None,
            )


class BadAggregation(Exception):
    """An aggregation the Monitoring API's proto cannot hold (an unknown aligner...): the
    tile's problem, not the render's."""


def _refused(error: Any) -> str:
    """The tile's problem for a query the API refused: the message's first line (a filter
    error goes on with a caret line under the filter, which a tile cannot line up)."""
    lines = str(error.message).splitlines() or [""]
    return f"the API refused the query: {lines[0].strip()}"


def _aggregation(spec: Mapping[str, Any], min_period: float | None) -> tuple[Any, float | None]:
    """The Aggregation proto of a dashboard's JSON, with the period the console would use
    when the dashboard leaves it out (the data set's minimum, else one minute)."""
    from google.cloud import monitoring_v3
    from google.protobuf.json_format import ParseError

    try:
        message = monitoring_v3.Aggregation.from_json(json.dumps(spec), ignore_unknown_fields=True)
    except ParseError as error:
        raise BadAggregation(str(error)) from error
    period = parse_duration(spec.get("alignmentPeriod"))
    aligned = message.per_series_aligner != monitoring_v3.Aggregation.Aligner.ALIGN_NONE
    if aligned and not period:
        period = min_period or 60.0
        message.alignment_period = timedelta(seconds=period)
    return message, period if aligned else None


def _has_effect(spec: Mapping[str, Any]) -> bool:
    """A secondary aggregation that changes nothing (no aligner, no reducer) is not sent."""
    return (
        spec.get("perSeriesAligner", "ALIGN_NONE") != "ALIGN_NONE"
        or spec.get("crossSeriesReducer", "REDUCE_NONE") != "REDUCE_NONE"
    )


def _entry_text(payload: Any) -> str:
    """A log entry in one line: its message, else its scalar fields as ``key=value``, the
    ones that say what happened first (an event's type, DAG and task) and ids last."""
    if isinstance(payload, Mapping):
        for key in ("message", "msg"):
            if isinstance(payload.get(key), str):
                return str(payload[key])
        scalars = {
            k: v
            for k, v in payload.items()
            if isinstance(v, (str, int, float, bool)) and k not in UNTOLD_FIELDS
        }
        first = [k for k in TOLD_FIRST if k in scalars]
        rest = [k for k in scalars if k not in TOLD_FIRST]
        return " ".join(f"{k}={scalars[k]}" for k in first + rest)
    return "" if payload is None else str(payload)
