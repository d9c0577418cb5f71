"""Drawing one tile into a box of a matplotlib ``Figure``: the one drawing both outputs use.

The PNG is one figure with every tile in its box; the HTML page draws each tile alone in a
figure of the tile's size and inlines it as SVG. ``Figure`` objects are used directly (never
pyplot), so nothing leaks into global state between renders.

What a tile becomes:

- ``xyChart``: per data set a line, a stacked area or stacked bars (``plotType``); a heatmap
  (distributions) is drawn as the line of the distributions' means. Y2 data sets get a right
  axis; ``thresholds`` are dashed lines; the legend uses the data sets' ``legendTemplate``.
- ``scorecard``: the latest value, tinted by its ``thresholds``, with the spark chart or the
  gauge (as a bar between its bounds) when asked for.
- ``pieChart``, ``timeSeriesTable``: the latest value of each series, as a pie or a table.
- ``logsPanel``, ``incidentList``: the newest rows that fit, as a table.
- ``text``: the content's plain text (the page shows it as HTML instead).
- headers (``sectionHeader``, ``collapsibleGroup``), blanks, and kinds the preview does not
  draw: the frame and title, with the reason when there is one.

"No data" is written on a chart whose queries returned nothing, and a query that could not
run (MQL, PromQL, refused by the API) is named on the tile instead of its data.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, Final, TypeVar

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.patches import FancyBboxPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from observability.dashboard_render.data import DataSet, TileData
from observability.dashboard_render.text import text_lines

_Item = TypeVar("_Item")
"""One entry of a listing tile: a series value, a log line, an incident."""

PALETTE: Final = (
    "#1a73e8",
    "#e8710a",
    "#188038",
    "#d93025",
    "#9334e6",
    "#12b5cb",
    "#e52592",
    "#f9ab00",
    "#5f6368",
    "#7cb342",
)
"""Series colours (Cloud Monitoring's first ten); the PNG check looks for these."""
THRESHOLD_COLOURS: Final = {"RED": "#d93025", "YELLOW": "#f9ab00", "COLOR_UNSPECIFIED": "#5f6368"}
TINTS: Final = {"RED": "#fce8e6", "YELLOW": "#fef7e0"}
MUTED: Final = "#5f6368"
FRAME: Final = "#dadce0"
GROUP_FACE: Final = "#f1f3f4"
TITLE_PX: Final = 22.0
ROW_PX: Final = 14.0
COLUMNS_PX: Final = (0.0, 90.0, 150.0)
"""Left edges of a table's columns (time, severity or state, text) in pixels."""
CHAR_PX: Final = 5.3
"""Width of a character of the tables' 7 pt monospace text."""
PLAIN: Final[dict[str, Any]] = {"parse_math": False}
"""For every text drawn: titles, labels and log lines are shown as written. Matplotlib would
otherwise read ``$5 to $6`` as math (italics, or a parse error for ``$\\frac$``)."""
SEVERITY_COLOURS: Final = {
    "EMERGENCY": "#a50e0e",
    "ALERT": "#a50e0e",
    "CRITICAL": "#d93025",
    "ERROR": "#d93025",
    "WARNING": "#e8710a",
    "NOTICE": "#1a73e8",
    "INFO": "#1a73e8",
}


@dataclass(frozen=True)
class PixelBox:
    """A rectangle in pixels from the figure's top left."""

    left: float
    top: float
    width: float
    height: float


class _Canvas:
    """Pixel boxes of one tile turned into the figure's fraction coordinates."""

    def __init__(self, figure: Figure, box: PixelBox) -> None:
        self.figure = figure
        self.box = box
        self.width_px = figure.bbox.width
        self.height_px = figure.bbox.height

    def rect(
        self, left: float, top: float, width: float, height: float
    ) -> tuple[float, float, float, float]:
        """``[x, y, w, h]`` in figure fractions of a box inside the tile (tile pixels)."""
        box = self.box
        return (
            (box.left + left) / self.width_px,
            1 - (box.top + top + height) / self.height_px,
            max(width, 1.0) / self.width_px,
            max(height, 1.0) / self.height_px,
        )

    def axes(self, left: float, top: float, width: float, height: float) -> Axes:
        return self.figure.add_axes(self.rect(left, top, width, height))

    def blank_axes(self, top: float) -> Axes:
        """Axes without decoration over the tile's content area, for text and tables."""
        ax = self.axes(8, top, self.box.width - 16, self.box.height - top - 6)
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        return ax


def draw_tile(figure: Figure, box: PixelBox, tile: TileData) -> None:
    """Draw ``tile`` in ``box`` of ``figure``: frame, title, then its content."""
    canvas = _Canvas(figure, box)
    x, y, width, height = canvas.rect(0, 0, box.width, box.height)
    frame = Rectangle(
        (x, y),
        width,
        height,
        transform=figure.transFigure,
        facecolor=_face(tile),
        edgecolor=FRAME,
        linewidth=1,
        # behind the tile's axes (zorder 0), and a group's behind its members' frames
        zorder=-20 if tile.kind == "collapsibleGroup" else -10,
    )
    figure.add_artist(frame)
    top = 4.0
    if tile.title or tile.kind in ("sectionHeader", "collapsibleGroup", "singleViewGroup"):
        _title(canvas, tile)
        top = TITLE_PX + 2
    problem = "; ".join(tile.problems)
    drawer = _DRAWERS.get(tile.kind)
    if drawer is not None and not (tile.message and not tile.datasets):
        drawer(canvas, tile, top)
    elif problem:
        _centred(canvas.blank_axes(top), problem, canvas.box.width, MUTED)


def _title(canvas: _Canvas, tile: TileData) -> None:
    big = tile.kind in ("sectionHeader", "collapsibleGroup", "singleViewGroup")
    size = 11 if big else 9
    chars = max(int(canvas.box.width / (size * 0.62)), 4)
    title = tile.title or tile.kind
    title = title if len(title) <= chars else title[: chars - 1] + "…"
    x, y, _, _ = canvas.rect(8, 0, 1, 16)
    canvas.figure.text(
        x,
        y,
        title,
        fontsize=size,
        fontweight="bold" if big else "normal",
        color="#202124",
        **PLAIN,
    )


def _centred(ax: Axes, message: str, width_px: float, colour: str = MUTED) -> None:
    wrapped = textwrap.fill(message, max(int(width_px / 6.5), 10))
    ax.text(
        0.5,
        0.5,
        wrapped,
        ha="center",
        va="center",
        fontsize=8,
        color=colour,
        transform=ax.transAxes,
        clip_on=True,
        **PLAIN,
    )


def _face(tile: TileData) -> str:
    """A group's band is grey; a scorecard is tinted by the threshold its value crosses."""
    if tile.kind == "collapsibleGroup":
        return GROUP_FACE
    if tile.kind != "scorecard":
        return "white"
    value = _latest(tile.datasets[0]) if tile.datasets else None
    colour = _threshold_colour(tile.spec.get("thresholds") or [], value)
    return TINTS.get(colour or "", "white")


# -- charts ------------------------------------------------------------------------------


def _chart(canvas: _Canvas, tile: TileData, top: float) -> None:
    spec = tile.spec
    box = canvas.box
    right_axis = any(d.target_axis == "Y2" for d in tile.datasets)
    left_pad, right_pad = 46.0, (46.0 if right_axis else 10.0)
    ax = canvas.axes(left_pad, top + 2, box.width - left_pad - right_pad, box.height - top - 24)
    ax2 = ax.twinx() if right_axis else None
    _style(ax, tile)
    colours = iter(PALETTE * 10)
    handles: list[Any] = []
    labels: list[str] = []
    for data_set in tile.datasets:
        target = ax2 if data_set.target_axis == "Y2" and ax2 is not None else ax
        for artist, label in _plot(target, data_set, colours):
            _mark_series(artist, len(handles))
            handles.append(artist)
            labels.append(label)
    for axis, key in ((ax, "yAxis"), (ax2, "y2Axis")):
        if axis is None:
            continue
        if all(float(v).is_integer() for d in tile.datasets for s in d.series for v in s.values):
            axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        settings = spec.get(key) or {}
        if settings.get("label"):
            axis.set_ylabel(str(settings["label"]), fontsize=7, color=MUTED, **PLAIN)
        if settings.get("scale") == "LOG10" and _positive(axis):
            axis.set_yscale("log")
        axis.tick_params(labelsize=7, colors=MUTED)
    for threshold in spec.get("thresholds") or []:
        target = ax2 if threshold.get("targetAxis") == "Y2" and ax2 is not None else ax
        colour = THRESHOLD_COLOURS.get(str(threshold.get("color")), MUTED)
        value = _float(threshold.get("value"))
        if value is not None:
            target.axhline(value, color=colour, linestyle="--", linewidth=1)
    problems = tile.problems
    if not handles:
        _centred(ax, "; ".join(problems) if problems else "No data", box.width - 60)
    elif handles and len(labels) <= 12:
        _plain(
            ax.legend(
                handles,
                labels,
                fontsize=6.5,
                loc="upper left",
                framealpha=0.7,
                ncol=2 if len(labels) > 4 else 1,
                handlelength=1.2,
            )
        )


def _plain(legend: Legend) -> None:
    """A legend's labels (metric label values: live data) shown as written (``PLAIN``)."""
    for text in legend.get_texts():
        text.set_parse_math(False)


def _mark_series(artist: Any, index: int) -> None:
    """Give a series' shapes the SVG ids ``series-N[-M]``, so a reader of the page (or a
    test) can tell plotted data from axes and frames."""
    parts = list(artist) if isinstance(artist, BarContainer) else [artist]
    for position, part in enumerate(parts):
        part.set_gid(f"series-{index}-{position}" if len(parts) > 1 else f"series-{index}")


def _style(ax: Axes, tile: TileData) -> None:
    window = tile.window
    ax.set_xlim(_x(window.start), _x(window.end))
    locator = mdates.AutoDateLocator(tz="UTC", maxticks=6)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz="UTC")
    formatter.offset_formats = [""] * 6  # the date is in the caption, not under every chart
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=7, colors=MUTED)
    ax.grid(axis="y", color="#f1f3f4", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(FRAME)


def _x(when: datetime) -> float:
    return float(mdates.date2num(when))


def _plot(ax: Axes, data_set: DataSet, colours: Any) -> list[tuple[Any, str]]:
    """Draw one data set; returns (legend handle, label) per series."""
    series = list(data_set.series)
    if not series:
        return []
    kind = data_set.plot_type
    suffix = " (mean)" if kind == "HEATMAP" else ""
    drawn: list[tuple[Any, str]] = []
    if kind in ("STACKED_BAR", "STACKED_AREA"):
        times = sorted({t for s in series for t in s.times})
        xs = [_x(t) for t in times]
        stacks = [
            [dict(zip(s.times, s.values, strict=True)).get(t, 0.0) for t in times] for s in series
        ]
        if kind == "STACKED_AREA" and len(xs) > 1:
            palette = [next(colours) for _ in series]
            areas = ax.stackplot(xs, stacks, colors=palette, alpha=0.85)
            return [(a, s.label) for a, s in zip(areas, series, strict=True)]
        width = _bar_width(data_set, xs)
        bottom = [0.0] * len(xs)
        for one, heights in zip(series, stacks, strict=True):
            bars = ax.bar(
                [x - width for x in xs],
                heights,
                width=width * 0.9,
                bottom=bottom,
                align="edge",
                color=next(colours),
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            drawn.append((bars, one.label))
        return drawn
    for one in series:
        xs = [_x(t) for t in one.times]
        (line,) = ax.plot(
            xs,
            one.values,
            color=next(colours),
            linewidth=1.4,
            marker="o" if len(xs) <= 40 else None,
            markersize=2.5,
        )
        drawn.append((line, one.label + suffix))
    return drawn


def _bar_width(data_set: DataSet, xs: Sequence[float]) -> float:
    """A bar covers its alignment period (in days, matplotlib's date unit)."""
    if data_set.period_s:
        return data_set.period_s / 86400
    gaps = [b - a for a, b in pairwise(xs) if b > a]
    return min(gaps) if gaps else 60 / 86400


def _positive(ax: Axes) -> bool:
    low, _ = ax.get_ylim()
    return low > 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- scorecards, pies, tables ---------------------------------------------------------


def _latest(data_set: DataSet) -> float | None:
    if not data_set.series or not data_set.series[0].values:
        return None
    return data_set.series[0].values[-1]


def _threshold_colour(thresholds: Sequence[Mapping[str, Any]], value: float | None) -> str | None:
    """The colour of the most severe threshold ``value`` crosses (RED over YELLOW)."""
    if value is None:
        return None
    crossed = []
    for threshold in thresholds:
        limit = _float(threshold.get("value"))
        if limit is None:
            continue
        below = threshold.get("direction") == "BELOW"
        if (value <= limit) if below else (value >= limit):
            crossed.append(str(threshold.get("color") or "COLOR_UNSPECIFIED"))
    for colour in ("RED", "YELLOW", "COLOR_UNSPECIFIED"):
        if colour in crossed:
            return colour
    return None


def number_text(value: float) -> str:
    """A value as a scorecard shows it: whole numbers plainly, else three significant digits."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e9:
        return f"{int(value)}"
    return f"{value:.3g}"


def _scorecard(canvas: _Canvas, tile: TileData, top: float) -> None:
    spec = tile.spec
    data_set = tile.datasets[0] if tile.datasets else DataSet()
    value = _latest(data_set)
    box = canvas.box
    spark = spec.get("sparkChartView")
    gauge = spec.get("gaugeView")
    lower = 0.35 if (spark or gauge) else 0.0
    ax = canvas.blank_axes(top)
    if value is None:
        _centred(ax, data_set.problem or "No data", box.width)
        return
    colour = _threshold_colour(spec.get("thresholds") or [], value)
    size = max(min((box.height - top) * 0.35, box.width * 0.18, 40), 10)
    ax.text(
        0.5,
        lower + (1 - lower) / 2,
        number_text(value),
        ha="center",
        va="center",
        fontsize=size,
        color=THRESHOLD_COLOURS.get(colour or "", "#202124"),
        **PLAIN,
    )
    content = box.height - top - 6
    if spark and len(data_set.series[0].values) > 1:
        one = data_set.series[0]
        inner = canvas.axes(16, top + content * (1 - lower), box.width - 32, content * lower - 4)
        inner.set_axis_off()
        xs = [_x(t) for t in one.times]
        if spark.get("sparkChartType") == "SPARK_BAR":
            inner.bar(xs, one.values, width=_bar_width(data_set, xs) * 0.8, color=PALETTE[0])
        else:
            inner.plot(xs, one.values, color=PALETTE[0], linewidth=1.2)
    elif gauge:
        low = _float(gauge.get("lowerBound")) or 0.0
        high = _float(gauge.get("upperBound"))
        high = high if high is not None and high > low else max(value, low + 1)
        fraction = min(max((value - low) / (high - low), 0.0), 1.0)
        ax.add_patch(
            FancyBboxPatch((0.1, 0.12), 0.8, 0.08, boxstyle="round,pad=0", color="#f1f3f4")
        )
        ax.add_patch(
            FancyBboxPatch(
                (0.1, 0.12),
                0.8 * fraction,
                0.08,
                boxstyle="round,pad=0",
                color=THRESHOLD_COLOURS.get(colour or "", PALETTE[0]),
            )
        )


def _latest_values(tile: TileData) -> list[tuple[str, float]]:
    return [(s.label, s.values[-1]) for d in tile.datasets for s in d.series if s.values]


def _pie(canvas: _Canvas, tile: TileData, top: float) -> None:
    values = [(label, value) for label, value in _latest_values(tile) if value > 0]
    ax = canvas.blank_axes(top)
    if not values:
        _centred(ax, "; ".join(tile.problems) or "No data", canvas.box.width)
        return
    ax.set_aspect("equal")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.1, 1.1)
    wedges, _ = ax.pie([v for _, v in values], colors=PALETTE, radius=1.0)
    _plain(ax.legend(wedges, [label for label, _ in values], fontsize=6.5, loc="center right"))


def _rows(ax: Axes, box: PixelBox, top: float, rows: Sequence[Sequence[tuple[str, str]]]) -> None:
    """Rows of (text, colour) cells, top down, as many as fit, in fixed-width columns
    (``COLUMNS_PX``), the last one taking the rest of the width."""
    height_px, width_px = box.height - top, max(box.width - 16, 1.0)
    fit = max(int(height_px // ROW_PX), 1)
    step = ROW_PX / max(height_px, 1.0)
    for index, row in enumerate(rows[:fit]):
        y = 1 - (index + 0.5) * step
        for (text, colour), x in zip(row, (p / width_px for p in COLUMNS_PX), strict=False):
            ax.text(
                x,
                y,
                text,
                fontsize=7,
                color=colour,
                va="center",
                family="monospace",
                clip_on=True,
                **PLAIN,
            )


def _table(canvas: _Canvas, tile: TileData, top: float) -> None:
    _listing(
        canvas,
        top,
        _latest_values(tile),
        "; ".join(tile.problems) or "No data",
        8,
        lambda value, chars: [
            (number_text(value[1]), "#202124"),
            ("", ""),
            (value[0][:chars], MUTED),
        ],
    )


def _logs(canvas: _Canvas, tile: TileData, top: float) -> None:
    _listing(
        canvas,
        top,
        tile.logs,
        "No log entries in the window",
        10,
        lambda line, chars: [
            (line.time.strftime("%H:%M:%S") if line.time else "", MUTED),
            (line.severity, SEVERITY_COLOURS.get(line.severity, MUTED)),
            (line.text[:chars], "#202124"),
        ],
    )


def _incidents(canvas: _Canvas, tile: TileData, top: float) -> None:
    _listing(
        canvas,
        top,
        tile.incidents,
        "No incidents",
        10,
        lambda incident, chars: [
            (incident.started.strftime("%m-%d %H:%M") if incident.started else "", MUTED),
            (incident.state, "#d93025" if incident.state == "open" else MUTED),
            (f"{incident.policy} - {incident.condition}"[:chars], "#202124"),
        ],
    )


def _listing(
    canvas: _Canvas,
    top: float,
    items: Sequence[_Item],
    empty: str,
    fewest_chars: int,
    row: Callable[[_Item, int], list[tuple[str, str]]],
) -> None:
    """A tile that lists ``items`` a row each (``row`` gets the characters its last, free
    column has room for, at least ``fewest_chars``), or says ``empty`` when there are none."""
    ax = canvas.blank_axes(top)
    if not items:
        _centred(ax, empty, canvas.box.width)
        return
    chars = max(int((canvas.box.width - 16 - COLUMNS_PX[-1]) / CHAR_PX), fewest_chars)
    _rows(ax, canvas.box, top, [row(item, chars) for item in items])


def _text(canvas: _Canvas, tile: TileData, top: float) -> None:
    spec = tile.spec
    ax = canvas.blank_axes(top)
    width = max(int((canvas.box.width - 16) / 5.6), 10)
    lines = [
        wrapped
        for line in text_lines(
            str(spec.get("content") or ""), str(spec.get("format") or "MARKDOWN")
        )
        for wrapped in (textwrap.wrap(line, width) or [""])
    ]
    fit = max(int((canvas.box.height - top) // ROW_PX), 1)
    text = "\n".join(lines[:fit])
    ax.text(0, 1, text, fontsize=8, va="top", color="#202124", linespacing=1.35, **PLAIN)


def _header(canvas: _Canvas, tile: TileData, top: float) -> None:
    subtitle = tile.spec.get("subtitle")
    if subtitle:
        ax = canvas.blank_axes(top)
        ax.text(0, 1, str(subtitle), fontsize=8, va="top", color=MUTED, **PLAIN)


_DRAWERS: Final = {
    "xyChart": _chart,
    "scorecard": _scorecard,
    "pieChart": _pie,
    "timeSeriesTable": _table,
    "logsPanel": _logs,
    "incidentList": _incidents,
    "text": _text,
    "sectionHeader": _header,
    "collapsibleGroup": _header,
    "singleViewGroup": _header,
}
