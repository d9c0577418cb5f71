"""The standalone HTML page: every tile where the layout puts it, as inline SVG.

No external assets and no script: the page opens from a file, offline, anywhere. Each tile is
an absolutely positioned element on a grid as wide as the PNG, carrying ``data-kind``,
``data-status`` and ``data-points`` (points, log lines or incidents drawn) so a browser test,
or a reader, can check what every tile shows. Text tiles are the content's Markdown as HTML
(escaped: see ``text``); every other tile is the SVG that ``draw_tile`` drew.

``fragment`` is the dashboard alone (its styles are scoped by the ``cod-`` class prefix), for
embedding in another page such as the demo's report; ``page`` wraps it in a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jinja2 import Environment
from markupsafe import Markup

_ENV: Final = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_FRAGMENT: Final = _ENV.from_string(
    """<section class="cod-dashboard" data-name="{{ name }}">
<style>
.cod-dashboard { font-family: Roboto, Arial, sans-serif; color: #202124; }
.cod-dashboard h2 { font-size: 18px; font-weight: 400; margin: 8px 0 2px; }
.cod-dashboard .cod-caption { font-size: 12px; color: #5f6368; margin: 0 0 8px; }
.cod-grid { position: relative; background: #f8f9fa; }
.cod-tile { position: absolute; box-sizing: border-box; overflow: hidden; z-index: 1; }
.cod-tile[data-kind="collapsibleGroup"] { z-index: 0; }
.cod-tile > svg { display: block; width: 100%; height: 100%; }
.cod-text { background: #fff; border: 1px solid #dadce0; padding: 4px 10px;
  font-size: 13px; line-height: 1.4; }
.cod-text .cod-title { font-size: 12px; margin-bottom: 2px; }
.cod-text p { margin: 4px 0; }
</style>
<h2>{{ title }}</h2>
<p class="cod-caption">{{ caption }}</p>
<div class="cod-grid" style="width: {{ width }}px; height: {{ height }}px">
{% for tile in tiles %}
<div class="cod-tile{% if tile.html %} cod-text{% endif %}" data-kind="{{ tile.kind }}" \
data-status="{{ tile.status }}" data-points="{{ tile.points }}" data-path="{{ tile.path }}" \
title="{{ tile.title }}" style="left: {{ tile.left }}px; top: {{ tile.top }}px; \
width: {{ tile.width }}px; height: {{ tile.height }}px">
{% if tile.html %}{% if tile.title %}<div class="cod-title">{{ tile.title }}</div>{% endif %}
{{ tile.html }}{% else %}{{ tile.svg }}{% endif %}
</div>
{% endfor %}
</div>
</section>"""
)

_PAGE: Final = _ENV.from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>body { margin: 16px; background: #fff; }</style>
</head>
<body>
{{ fragment }}
</body>
</html>
"""
)


@dataclass(frozen=True)
class PageTile:
    """One tile of the page: where it is (pixels), what it is, and its drawing."""

    kind: str
    title: str
    status: str
    points: int
    path: str
    left: float
    top: float
    width: float
    height: float
    svg: Markup | None = None
    html: Markup | None = None


def fragment(
    name: str, title: str, caption: str, tiles: Sequence[PageTile], width: float, height: float
) -> str:
    """The dashboard as an embeddable ``<section>``."""
    return _FRAGMENT.render(
        name=name,
        title=title,
        caption=caption,
        tiles=tiles,
        width=round(width),
        height=round(height),
    )


def page(title: str, body: str) -> str:
    """A standalone document around a fragment."""
    return _PAGE.render(title=title, fragment=Markup(body))
