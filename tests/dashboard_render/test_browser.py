"""The rendered page in headless Chromium: every tile is on screen and drew something."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from observability.dashboard_render import RenderResult
from tests.dashboard_render.conftest import Conformance, Rendered

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")


def _check_page(result: RenderResult, screenshot: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(result.html_path.as_uri())
            tiles = page.locator(".cod-tile")
            assert tiles.count() == len(result.tiles)
            for index, report in enumerate(result.tiles):
                tile = tiles.nth(index)
                tile.scroll_into_view_if_needed()
                assert tile.is_visible(), report.path
                box = tile.bounding_box()
                assert box and box["width"] > 50 and box["height"] > 50, report.path
                kind, status = tile.get_attribute("data-kind"), tile.get_attribute("data-status")
                assert (kind, status) == (report.kind, report.status)
                points = int(tile.get_attribute("data-points") or -1)
                assert points == report.points
                if kind == "text":
                    assert tile.inner_text().strip(), report.path
                    continue
                svg = tile.locator("svg")
                assert svg.count() == 1 and svg.first.is_visible(), report.path
                assert tile.locator("svg path").count() > 0, report.path
                if status == "ok":
                    assert points > 0
                if kind == "xyChart" and status == "ok":
                    # the shapes of plotted series carry ids series-N (draw._mark_series)
                    assert tile.locator("svg [id^='series-'] path").count() > 0, report.path
            image = page.screenshot(full_page=True)
        finally:
            browser.close()
    screenshot.write_bytes(image)
    shot = Image.open(io.BytesIO(image)).convert("L")
    assert shot.size[1] > 1000
    assert ImageStat.Stat(shot).stddev[0] > 5  # not a blank page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium")
@pytest.mark.parametrize("name", ["overview", "team"])
def test_every_tile_drew_in_the_browser(rendered: Rendered, name: str, tmp_path: Path) -> None:
    _check_page(getattr(rendered, name), tmp_path / f"{name}.png")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium")
def test_every_conformance_tile_drew_in_the_browser(
    conformance: Conformance, tmp_path: Path
) -> None:
    _check_page(conformance.seeded, tmp_path / "conformance.png")
