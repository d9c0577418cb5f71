"""What the Dashboards API refuses, checked on the dashboard's own JSON (never the proto).

The checks are the documented constraints Google enforces (a display name, exactly one
layout, mosaic tiles inside the grid, one content kind per widget, one query kind per time
series query, filters that parse), each refusal naming the JSON path of the offending value
(``mosaicLayout.tiles[3].widget.xyChart.dataSets[0].timeSeriesQuery: ...``). Anything else
is left alone: the live API knows newer fields than any client proto, so an unknown field is
kept, never refused, and a valid dashboard must never be turned away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from google.api.metric_pb2 import MetricDescriptor

from observability.emulator.common.errors import ApiError, json_type_name
from observability.emulator.common.monitoring_filter import (
    MonitoringFilterError,
    compile_monitoring_filter,
)
from observability.emulator.descriptors.rules import Lookup, builtin, misfit

DEFAULT_MOSAIC_COLUMNS: Final = 12
MAX_MOSAIC_COLUMNS: Final = 48
MAX_DISPLAY_NAME_CHARS: Final = 1000

LAYOUTS: Final = ("gridLayout", "mosaicLayout", "rowLayout", "columnLayout")

WIDGET_KINDS: Final = (
    "xyChart",
    "scorecard",
    "text",
    "blank",
    "alertChart",
    "timeSeriesTable",
    "collapsibleGroup",
    "logsPanel",
    "incidentList",
    "pieChart",
    "errorReportingPanel",
    "sectionHeader",
    "singleViewGroup",
    "treemap",
    "filterControl",
)
"""Content kinds of a widget: the client proto's, plus the newer ones the live API takes."""

WIDGET_FIELDS: Final = frozenset({"title", "id", "visibilityCondition"})
"""Widget fields that are not content."""

QUERY_KINDS: Final = (
    "timeSeriesFilter",
    "timeSeriesFilterRatio",
    "timeSeriesQueryLanguage",
    "prometheusQuery",
    "opsAnalyticsQuery",
)
"""The ``TimeSeriesQuery`` oneof, including ``opsAnalyticsQuery`` that the proto lacks."""


def _invalid(path: str, message: str) -> ApiError:
    return ApiError.invalid(f"{path}: {message}" if path else message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(path, f"must be a JSON object, got {json_type_name(value)}")
    return value


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(path, f"must be a JSON array, got {json_type_name(value)}")
    return value


def _integer(parent: Mapping[str, Any], key: str, path: str, default: int = 0) -> int:
    """An integer field; proto3 JSON allows a number or a decimal string (int64 travels so)."""
    value = parent.get(key, default)
    where = _join(path, key)
    if isinstance(value, bool):
        raise _invalid(where, "must be an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _invalid(where, f"must be an integer, got {value!r}")


def _string(parent: Mapping[str, Any], key: str, path: str, required: bool = False) -> str:
    value = parent.get(key, "")
    where = _join(path, key)
    if not isinstance(value, str):
        raise _invalid(where, f"must be a string, got {json_type_name(value)}")
    if required and not value.strip():
        raise _invalid(where, "required")
    return value


def check_filter(text: str, path: str) -> None:
    """A shallow syntax check of a Monitoring or Logging filter: quotes and parentheses.

    Deeper parsing is the business of the APIs that evaluate filters; here it only matters
    that an obviously truncated filter is refused at the path that holds it.
    """
    depth = 0
    quote = ""
    escaped = False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char == '"':
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _invalid(path, f"invalid filter: unbalanced ')' at position {index}")
    if quote:
        raise _invalid(path, "invalid filter: unterminated string")
    if depth:
        raise _invalid(path, "invalid filter: unbalanced '(', missing ')'")


def _monitoring_filter(parent: Mapping[str, Any], path: str) -> None:
    """``{filter, aggregation, ...}`` where ``filter`` is required (TimeSeriesFilter and the
    numerator and denominator of a ratio)."""
    text = _string(parent, "filter", path, required=True)
    check_filter(text, _join(path, "filter"))


_FILTER_HOLDERS: Final = frozenset({"timeSeriesFilter", "numerator", "denominator"})
"""Keys of the ``{filter, aggregation}`` objects of a time series query (a ratio's parts)."""


def _check_aligners(dashboard: Mapping[str, Any], descriptors: Lookup) -> None:
    """Every query's aligner against the descriptor of the metric its filter names, in the
    dashboard's order: a pass of its own over the JSON, once its shape is known valid."""
    pending: list[tuple[Any, str]] = [(dashboard, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, Mapping):
            items = [(_join(path, str(key)), key, item) for key, item in value.items()]
            for where, key, item in items:
                if key in _FILTER_HOLDERS and isinstance(item, Mapping):
                    text = item.get("filter")
                    if isinstance(text, str):
                        aggregation = item.get("aggregation")
                        _check_aligner(text, aggregation, _join(where, "aggregation"), descriptors)
            pending.extend((item, where) for where, _, item in reversed(items))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))


def _check_aligner(text: str, aggregation: Any, path: str, descriptors: Lookup) -> None:
    """The aligner must fit the kind and value type of the metric the filter names, when
    ``descriptors`` knows it (a filter that does not parse as Monitoring's, e.g. holding a
    dashboard variable, is left to the API that evaluates it)."""
    if not isinstance(aggregation, Mapping):
        return
    aligner = aggregation.get("perSeriesAligner")
    if not isinstance(aligner, str):
        return
    try:
        metric_types = compile_monitoring_filter(text).metric_types
    except MonitoringFilterError:
        return
    found = misfit(metric_types, aligner, descriptors)
    if found is not None:
        kind = MetricDescriptor.MetricKind.Name(found.metric_kind)
        value = MetricDescriptor.ValueType.Name(found.value_type)
        raise _invalid(
            _join(path, "perSeriesAligner"),
            f"The aligner {aligner} cannot be applied to metrics with kind {kind} and value "
            f"type {value} ({found.type}).",
        )


def _time_series_query(value: Any, path: str) -> None:
    query = _object(value, path)
    kinds = [kind for kind in QUERY_KINDS if kind in query]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        raise _invalid(path, f"exactly one of {', '.join(QUERY_KINDS)} is required{found}")
    kind = kinds[0]
    where = _join(path, kind)
    if kind == "timeSeriesFilter":
        _monitoring_filter(_object(query[kind], where), where)
    elif kind == "timeSeriesFilterRatio":
        ratio = _object(query[kind], where)
        for part in ("numerator", "denominator"):
            if part not in ratio:
                raise _invalid(_join(where, part), "required")
            _monitoring_filter(_object(ratio[part], _join(where, part)), _join(where, part))
    elif kind in ("timeSeriesQueryLanguage", "prometheusQuery") and (
        not isinstance(query[kind], str) or not query[kind].strip()
    ):
        raise _invalid(where, "must be a non-empty query string")


def _data_sets(chart: Mapping[str, Any], path: str, required: bool) -> None:
    where = _join(path, "dataSets")
    sets = _array(chart.get("dataSets", []), where)
    if required and not sets:
        raise _invalid(where, "at least one data set is required")
    for index, data_set in enumerate(sets):
        here = f"{where}[{index}]"
        query = _object(data_set, here).get("timeSeriesQuery")
        if query is None:
            raise _invalid(_join(here, "timeSeriesQuery"), "required")
        _time_series_query(query, _join(here, "timeSeriesQuery"))


def _xy_chart(chart: Mapping[str, Any], path: str) -> None:
    _data_sets(chart, path, required=True)


def _scorecard(chart: Mapping[str, Any], path: str) -> None:
    if "timeSeriesQuery" not in chart:
        raise _invalid(_join(path, "timeSeriesQuery"), "required")
    _time_series_query(chart["timeSeriesQuery"], _join(path, "timeSeriesQuery"))


def _table(chart: Mapping[str, Any], path: str) -> None:
    _data_sets(chart, path, required=True)


def _alert_chart(chart: Mapping[str, Any], path: str) -> None:
    _string(chart, "name", path, required=True)


def _logs_panel(panel: Mapping[str, Any], path: str) -> None:
    check_filter(_string(panel, "filter", path), _join(path, "filter"))
    _array(panel.get("resourceNames", []), _join(path, "resourceNames"))


_CONTENT_CHECKS: Final[dict[str, Callable[[Mapping[str, Any], str], None]]] = {
    "xyChart": _xy_chart,
    "scorecard": _scorecard,
    "timeSeriesTable": _table,
    "pieChart": _table,
    "alertChart": _alert_chart,
    "logsPanel": _logs_panel,
}


def _widget(value: Any, path: str) -> None:
    widget = _object(value, path)
    kinds = [kind for kind in WIDGET_KINDS if kind in widget]
    if not kinds:
        unknown = sorted(set(widget) - WIDGET_FIELDS)
        if unknown:
            raise _invalid(
                path,
                f"unknown widget kind {unknown[0]!r}; a widget holds one of "
                f"{', '.join(WIDGET_KINDS)}",
            )
        raise _invalid(path, f"exactly one of {', '.join(WIDGET_KINDS)} is required")
    if len(kinds) > 1:
        raise _invalid(path, f"a widget holds exactly one content kind, found {', '.join(kinds)}")
    kind = kinds[0]
    where = _join(path, kind)
    content = _object(widget[kind], where)
    check = _CONTENT_CHECKS.get(kind)
    if check is not None:
        check(content, where)
    _string(widget, "title", path)


def _widgets(container: Mapping[str, Any], path: str) -> None:
    where = _join(path, "widgets")
    for index, widget in enumerate(_array(container.get("widgets", []), where)):
        _widget(widget, f"{where}[{index}]")


def _mosaic(layout: Mapping[str, Any], path: str) -> None:
    columns = _integer(layout, "columns", path, DEFAULT_MOSAIC_COLUMNS)
    if "columns" not in layout:
        columns = DEFAULT_MOSAIC_COLUMNS
    if not 1 <= columns <= MAX_MOSAIC_COLUMNS:
        raise _invalid(
            _join(path, "columns"), f"must be between 1 and {MAX_MOSAIC_COLUMNS}, got {columns}"
        )
    where = _join(path, "tiles")
    for index, value in enumerate(_array(layout.get("tiles", []), where)):
        here = f"{where}[{index}]"
        tile = _object(value, here)
        x_pos, y_pos = _integer(tile, "xPos", here), _integer(tile, "yPos", here)
        width, height = _integer(tile, "width", here), _integer(tile, "height", here)
        for key, number in (("xPos", x_pos), ("yPos", y_pos)):
            if number < 0:
                raise _invalid(_join(here, key), f"must not be negative, got {number}")
        for key, number in (("width", width), ("height", height)):
            if number < 1:
                raise _invalid(_join(here, key), f"must be at least 1, got {number}")
        if x_pos + width > columns:
            raise _invalid(
                here,
                f"the tile does not fit the mosaic: xPos {x_pos} + width {width} exceeds "
                f"the {columns} columns",
            )
        if "widget" in tile:
            _widget(tile["widget"], _join(here, "widget"))


def _grid(layout: Mapping[str, Any], path: str) -> None:
    columns = _integer(layout, "columns", path)
    if columns < 0:
        raise _invalid(_join(path, "columns"), f"must not be negative, got {columns}")
    _widgets(layout, path)


def _rows_or_columns(key: str) -> Callable[[Mapping[str, Any], str], None]:
    def check(layout: Mapping[str, Any], path: str) -> None:
        where = _join(path, key)
        for index, value in enumerate(_array(layout.get(key, []), where)):
            here = f"{where}[{index}]"
            part = _object(value, here)
            weight = _integer(part, "weight", here)
            if weight < 0:
                raise _invalid(_join(here, "weight"), f"must not be negative, got {weight}")
            _widgets(part, here)

    return check


_LAYOUT_CHECKS: Final[dict[str, Callable[[Mapping[str, Any], str], None]]] = {
    "mosaicLayout": _mosaic,
    "gridLayout": _grid,
    "rowLayout": _rows_or_columns("rows"),
    "columnLayout": _rows_or_columns("columns"),
}


def validate_dashboard(dashboard: Mapping[str, Any], descriptors: Lookup = builtin) -> None:
    """Raise ``ApiError`` (INVALID_ARGUMENT, naming the JSON path) if Google would refuse it;
    chart aligners are checked against ``descriptors`` (the dashboard's project's)."""
    name = _string(dashboard, "displayName", "", required=True)
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise _invalid("displayName", f"at most {MAX_DISPLAY_NAME_CHARS} characters are allowed")
    layouts = [layout for layout in LAYOUTS if layout in dashboard]
    if len(layouts) != 1:
        found = f" (found {', '.join(layouts)})" if layouts else ""
        raise _invalid("", f"exactly one of {', '.join(LAYOUTS)} is required{found}")
    layout = layouts[0]
    _LAYOUT_CHECKS[layout](_object(dashboard[layout], layout), layout)
    labels = _object(dashboard.get("labels", {}), "labels")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise _invalid(f"labels.{key}", f"must be a string, got {json_type_name(value)}")
    filters = _array(dashboard.get("dashboardFilters", []), "dashboardFilters")
    for index, value in enumerate(filters):
        _object(value, f"dashboardFilters[{index}]")
    _check_aligners(dashboard, descriptors)
