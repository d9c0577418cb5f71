"""Loading definitions: variables, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.provision.source import DefinitionError, Variables, read_file, resolve
from observability.provision.spec import Layout, Spec, load_spec
from observability.provision.validate import validate_spec


def _layout(tmp_path: Path) -> Layout:
    layout = Layout.under(tmp_path)
    layout.metrics.mkdir()
    layout.policies.mkdir()
    layout.dashboards.mkdir()
    return layout


METRIC = """\
name: composer_obs/x
description: test
filter: jsonPayload.event_type="task_failed"
"""

POLICY = "displayName: P\ncombiner: OR\nconditions:\n"
"""The head of a policy file; the tests append conditions (line numbers count from here)."""


def _threshold(display_name: str, metric: str) -> str:
    """A threshold condition on ``metric``, lines 4-7 of the file when it comes first."""
    return (
        f"  - displayName: {display_name}\n"
        "    conditionThreshold:\n"
        f'      filter: metric.type="logging.googleapis.com/user/{metric}"\n'
        "      comparison: COMPARISON_GT\n"
    )


def _load(layout: Layout) -> Spec:
    """The definitions under ``layout`` with no variables from the environment."""
    return load_spec(layout, Variables.load(environ={}))


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.metrics / "bad.yaml").write_text("name: a\nfilter: [unclosed\ndescription: x\n")
    with pytest.raises(DefinitionError) as err:
        _load(layout)
    assert err.value.file.endswith("bad.yaml")
    assert err.value.line is not None and err.value.line >= 2
    assert "bad.yaml:" in str(err.value)


def test_unset_variable_names_line_and_key(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.metrics / "m.yaml").write_text(
        METRIC + "labelExtractors:\n  team: EXTRACT(jsonPayload.${FIELD_NAME})\n"
    )
    with pytest.raises(DefinitionError) as err:
        _load(layout)
    assert err.value.line == 5
    assert err.value.key == "labelExtractors.team"
    assert "FIELD_NAME" in err.value.message
    assert str(err.value).startswith(f"{layout.metrics / 'm.yaml'}:5: labelExtractors.team:")


def test_variables_resolve_with_types_defaults_and_precedence(tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yaml"
    vars_file.write_text("THRESHOLD: 7\nTEAM: data\n")
    source = tmp_path / "p.yaml"
    source.write_text(
        "a: ${THRESHOLD}\n"
        "b: ${MISSING:-3}\n"
        "c: team ${TEAM} ${metric.label.dag_id} $${LITERAL}\n"
        "d: ${TEAM}\n"
    )
    variables = Variables.load(vars_file, environ={"COMPOSER_OBS_TEAM": "payments"})
    data = resolve(read_file(source), variables).data
    assert data["a"] == 7
    assert data["b"] == 3
    assert data["c"] == "team payments ${metric.label.dag_id} $${LITERAL}"
    assert data["d"] == "payments"  # the environment beats the vars file
    explicit = Variables.load(vars_file, {"TEAM": "ops"}, environ={"COMPOSER_OBS_TEAM": "x"})
    assert resolve(read_file(source), explicit).data["d"] == "ops"


def test_bad_vars_file_key(tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yaml"
    vars_file.write_text("GOOD: 1\nbad_name: 2\n")
    with pytest.raises(DefinitionError) as err:
        Variables.load(vars_file)
    assert err.value.line == 2 and err.value.key == "bad_name"


def test_unknown_policy_field_names_its_line(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.metrics / "m.yaml").write_text(METRIC)
    (layout.policies / "p.yaml").write_text(
        POLICY + _threshold("c", "composer_obs/x") + "      thresholdValu: 3\n"
    )
    report = validate_spec(_load(layout))
    assert len(report.errors) == 1
    error = report.errors[0]
    assert error.file.endswith("p.yaml") and error.line == 8
    assert error.key == "conditions[0].conditionThreshold.thresholdValu"


def test_policy_constraint_names_its_line(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.policies / "p.yaml").write_text(
        POLICY + "  - displayName: c\n"
        "    conditionAbsent:\n"
        '      filter: metric.type="composer.googleapis.com/environment/healthy"\n'
        "      duration: 60s\n"
    )
    report = validate_spec(_load(layout))
    assert [e.line for e in report.errors] == [7]
    assert report.errors[0].key == "conditions[0].conditionAbsent.duration"


def test_bad_filter_and_undeclared_label(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.metrics / "m.yaml").write_text(
        "- name: composer_obs/a\n"
        '  filter: jsonPayload.x="unterminated\n'
        "- name: composer_obs/b\n"
        '  filter: jsonPayload.x="y"\n'
        "  labelExtractors:\n"
        "    team: EXTRACT(jsonPayload.team)\n"
    )
    report = validate_spec(_load(layout))
    where = sorted((e.line, e.key) for e in report.errors)
    assert where[0] == (2, "filter")
    assert where[1][0] == 6 and where[1][1] == "labelExtractors.team"


def test_reference_to_undefined_metric_and_label(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.metrics / "m.yaml").write_text(METRIC)
    (layout.policies / "p.yaml").write_text(
        POLICY
        + _threshold("c", "composer_obs/nope")
        + _threshold("d", "composer_obs/x")
        + "      aggregations:\n"
        "        - alignmentPeriod: 60s\n"
        "          perSeriesAligner: ALIGN_SUM\n"
        "          crossSeriesReducer: REDUCE_SUM\n"
        "          groupByFields: [metric.label.dag_id]\n"
    )
    report = validate_spec(_load(layout))
    messages = sorted((e.line, e.message) for e in report.errors)
    assert messages[0][0] == 6 and "composer_obs/nope is not defined" in messages[0][1]
    assert messages[1][0] == 10 and "no label 'dag_id'" in messages[1][1]


def test_unknown_channel_key(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.policies / "p.yaml").write_text("displayName: P\nnotificationChannels: [pager]\n")
    with pytest.raises(DefinitionError) as err:
        _load(layout)
    assert err.value.line == 2 and err.value.key == "notificationChannels[0]"


def test_dashboard_json_error_names_line(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.dashboards / "d.json").write_text('{\n  "displayName": "x",\n  "mosaicLayout": {,}\n}')
    with pytest.raises(DefinitionError) as err:
        _load(layout)
    assert err.value.line == 3


def test_dashboard_constraint_names_path_and_line(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    (layout.dashboards / "d.json").write_text(
        '{\n  "displayName": "x",\n  "mosaicLayout": {\n    "columns": 12,\n'
        '    "tiles": [\n      {"width": 20, "height": 4, "widget": {"blank": {}}}\n    ]\n  }\n}\n'
    )
    report = validate_spec(_load(layout))
    assert len(report.errors) == 1
    assert report.errors[0].line == 6
    assert report.errors[0].key.startswith("mosaicLayout.tiles[0]")
