"""Reading dashboards: variables resolved as provisioning does, errors with line and column,
and text tiles that can never inject markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.source import load_dashboard
from observability.dashboard_render.text import text_html, text_lines

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_dashboard_gets_its_project_and_defaults() -> None:
    dashboard = load_dashboard(ROOT / "dashboards" / "composer_team.json", "p1", {"TEAM": "fin"})
    assert dashboard.name == "composer_team"
    assert dashboard.display_name == "Composer workloads: team fin"
    panel = dashboard.body["mosaicLayout"]["tiles"][-1]["widget"]["logsPanel"]
    assert panel["resourceNames"] == ["projects/p1"]
    assert 'jsonPayload.team="fin"' in panel["filter"]
    chart = dashboard.body["mosaicLayout"]["tiles"][4]["widget"]["xyChart"]
    assert chart["dataSets"][0]["legendTemplate"] == "${metric.labels.dag_id}"


def test_bad_json_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "displayName": "x",\n  "mosaicLayout": {,}\n}\n', encoding="utf-8")
    with pytest.raises(RenderError, match=r"broken\.json:3:20: invalid JSON: "):
        load_dashboard(path, "p")


def test_a_key_given_twice_is_refused_not_resolved_to_the_last(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text(
        '{"displayName": "x",\n "mosaicLayout": {"tiles": [{"widget": {}, "widget": {}}]}}\n',
        encoding="utf-8",
    )
    with pytest.raises(
        RenderError,
        match=r"twice\.json:2:44: mosaicLayout\.tiles\[0\]\.widget: duplicate key "
        r"\(first given on line 2, column 30\)",
    ):
        load_dashboard(path, "p")


def test_a_missing_file_and_an_unset_variable_are_named(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"nope\.json: cannot read"):
        load_dashboard(tmp_path / "nope.json", "p")
    with pytest.raises(RenderError, match=r"displayName: variable \$\{OWNER_TEAM_X\} is not set"):
        load_dashboard({"displayName": "${OWNER_TEAM_X}", "gridLayout": {}}, "p")


def test_a_dict_is_named_after_its_display_name() -> None:
    assert load_dashboard({"displayName": "Ops: Daily view"}, "p").name == "ops_daily_view"


def test_markdown_is_rendered_without_raw_html_or_script_links() -> None:
    html = text_html("**bold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and 'href="javascript' not in html
    assert text_html("a <b>\nb", "RAW") == "<p>a &lt;b&gt;<br>b</p>"


def test_markdown_as_plain_lines_for_the_png() -> None:
    assert text_lines("**Team** `x`\nnext\n\n- one\n- *two*") == ["Team x next", "• one", "• two"]
