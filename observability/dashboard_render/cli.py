"""``composer-obs dashboard render``: preview a dashboard file as HTML and PNG."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.render import DEFAULT_WINDOW, render_dashboard
from observability.settings import SettingsError

dashboard_app = typer.Typer(help="Preview dashboards with the emulator's (or a project's) data.")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` (or a combination such as ``1h30m``)."""
    parts = re.findall(r"(\d+)([smhd])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise typer.BadParameter(f"{text!r}: a duration such as 30m, 1h or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_end(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(f"{text!r}: an ISO 8601 time with its offset") from error
    if when.tzinfo is None:
        raise typer.BadParameter(f"{text!r}: give the offset (Z or +00:00)")
    return when


@dashboard_app.command("render")
def render(
    dashboard: Annotated[Path, typer.Argument(help="The dashboard's JSON file.")],
    out: Annotated[Path, typer.Option(help="Where NAME.html and NAME.png go.")] = Path(
        "dashboard-previews"
    ),
    project: Annotated[
        str | None, typer.Option(help="Project whose data is drawn (default: configured).")
    ] = None,
    window: Annotated[str, typer.Option(help="How far back the charts go (30m, 1h, 1d).")] = (
        f"{int(DEFAULT_WINDOW.total_seconds() // 3600)}h"
    ),
    end: Annotated[
        str | None,
        typer.Option(help="End of the window, ISO 8601 (default: the emulator's clock, or now)."),
    ] = None,
) -> None:
    """Draw DASHBOARD's tiles from live data into OUT/NAME.html and OUT/NAME.png."""
    err = Console(stderr=True)
    try:
        result = render_dashboard(
            dashboard, out, project=project, window=parse_window(window), end=parse_end(end)
        )
    except (RenderError, SettingsError) as error:
        # the message quotes the file's values: escaped, so "[/x]" is text, not markup
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from error
    console = Console()
    console.print(str(result.html_path), highlight=False, markup=False, soft_wrap=True)
    console.print(str(result.png_path), highlight=False, markup=False, soft_wrap=True)
    charts = [t for t in result.tiles if t.status in ("ok", "no-data")]
    if charts and all(t.status == "no-data" for t in charts):
        err.print(
            f"warning: no chart has data in project {result.project} in the {window} window: "
            "is it the project your events go to (--project, COMPOSER_OBS_PROJECT)?",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    unsupported = [t for t in result.tiles if t.status == "unsupported"]
    for tile in unsupported:
        reason = "; ".join(tile.problems)
        err.print(
            f"note: {tile.path} ({tile.title or tile.kind}): {reason}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
