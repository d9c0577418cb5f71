"""The shapes of the widget fields the preview reads, checked once before anything is fetched.

The JSON of a dashboard is read with ``.get`` everywhere a tile is fetched or drawn; a field
of the wrong type (``"dataSets": "nope"``, ``"resourceNames": "projects/p"``) would otherwise
end in a traceback deep in the drawing, or be misread without a word (a string iterated as
its characters). These models name only the fields the preview uses, with the types Cloud
Monitoring's API gives them, and let every other field through (``extra="allow"``): what the
preview does not read, the API checks when the dashboard is applied. A mismatch is one
``RenderError`` in the form layout errors use: ``file: tiles[i].widget.key: why``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from observability.dashboard_render.errors import RenderError

Model = TypeVar("Model", bound=BaseModel)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Aggregation(_Shape):
    alignmentPeriod: str | None = None
    perSeriesAligner: str | None = None
    crossSeriesReducer: str | None = None
    groupByFields: list[str] | None = None


class TimeSeriesFilter(_Shape):
    filter: str | None = None
    aggregation: Aggregation | None = None
    secondaryAggregation: Aggregation | None = None


class TimeSeriesFilterRatio(_Shape):
    numerator: TimeSeriesFilter | None = None
    denominator: TimeSeriesFilter | None = None


class TimeSeriesQuery(_Shape):
    timeSeriesFilter: TimeSeriesFilter | None = None
    timeSeriesFilterRatio: TimeSeriesFilterRatio | None = None


class DataSet(_Shape):
    timeSeriesQuery: TimeSeriesQuery | None = None
    plotType: str | None = None
    targetAxis: str | None = None
    legendTemplate: str | None = None
    minAlignmentPeriod: str | None = None


class Threshold(_Shape):
    value: float | None = None
    color: str | None = None
    direction: str | None = None
    targetAxis: str | None = None


class Axis(_Shape):
    label: str | None = None
    scale: str | None = None


class Charted(_Shape):
    """``xyChart``, ``pieChart`` and ``timeSeriesTable``: their data sets (and a chart's axes)."""

    dataSets: list[DataSet] | None = None
    thresholds: list[Threshold] | None = None
    yAxis: Axis | None = None
    y2Axis: Axis | None = None


class SparkChart(_Shape):
    sparkChartType: str | None = None


class Gauge(_Shape):
    lowerBound: float | None = None
    upperBound: float | None = None


class Scorecard(_Shape):
    timeSeriesQuery: TimeSeriesQuery | None = None
    thresholds: list[Threshold] | None = None
    sparkChartView: SparkChart | None = None
    gaugeView: Gauge | None = None


class LogsPanel(_Shape):
    filter: str | None = None
    resourceNames: list[str] | None = None


class IncidentList(_Shape):
    policyNames: list[str] | None = None


class Text(_Shape):
    content: str | None = None
    format: str | None = None


class Header(_Shape):
    subtitle: str | None = None


class Widget(_Shape):
    """A widget: its title and the content of the kinds the preview draws."""

    title: str | None = None
    xyChart: Charted | None = None
    pieChart: Charted | None = None
    timeSeriesTable: Charted | None = None
    scorecard: Scorecard | None = None
    logsPanel: LogsPanel | None = None
    incidentList: IncidentList | None = None
    text: Text | None = None
    sectionHeader: Header | None = None
    collapsibleGroup: Header | None = None
    singleViewGroup: Header | None = None


class FilterShape(_Shape):
    filterType: str | None = None
    labelKey: str | None = None
    stringValue: str | None = None
    templateVariable: str | None = None


class Filters(_Shape):
    """The part of a dashboard (outside its layout) that narrows its queries."""

    dashboardFilters: list[FilterShape] | None = None


_WHY = {
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def check_widget(widget: Mapping[str, Any], path: str, origin: str) -> None:
    """Raise ``RenderError`` naming ``origin`` and the field's JSON path when a field the
    preview reads has the wrong type."""
    _check(Widget, widget, path, origin)


def check_filters(dashboard: Mapping[str, Any], origin: str) -> Filters:
    """The dashboard's ``dashboardFilters``, checked as ``check_widget`` checks widgets."""
    return _check(Filters, dashboard, "", origin)


def _check(model: type[Model], value: Mapping[str, Any], path: str, origin: str) -> Model:
    try:
        return model.model_validate(dict(value))
    except ValidationError as error:
        first = error.errors()[0]
        where = _place(path, first["loc"])
        why = _WHY.get(first["type"], first["msg"])
        raise RenderError(f"{origin}: {where}: {why}, got {_shown(first['input'])}") from None


def _place(path: str, loc: Sequence[int | str]) -> str:
    """``mosaicLayout.tiles[0].widget`` and ``("xyChart", "dataSets", 1)`` joined as JSON
    paths are written: ``...widget.xyChart.dataSets[1]``."""
    text = path
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
