"""Loading definitions: variables, and errors that name file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.provision.cli import provision_app
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
    assert (err.value.line, err.value.column) == (3, 20)
    assert str(err.value).startswith(f"{layout.dashboards / 'd.json'}:3:20: invalid JSON: ")


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


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    source = tmp_path / "m.yaml"
    content = b"name: a\ndescription: caf\xe9\n"  # Latin-1, as an old editor saves it
    source.write_bytes(content)
    with pytest.raises(DefinitionError) as err:
        read_file(source)
    offset = content.index(b"\xe9")
    assert str(err.value) == f"{source}:2: not UTF-8 text (byte 0xe9 at offset {offset})"


@pytest.mark.parametrize(
    ("text", "line", "key", "first"),
    [
        ("name: a\nfilter: x\nname: b\n", 3, "name", 1),
        (
            "conditions:\n  - displayName: c\n    displayName: d\n",
            3,
            "conditions[0].displayName",
            2,
        ),
        ("labels: {team: a, team: b}\n", 1, "labels.team", 1),
        ("a: 1\n'a': 2\n", 2, "a", 1),  # quoted or not, the same key
    ],
)
def test_a_key_given_twice_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int, key: str, first: int
) -> None:
    source = tmp_path / "m.yaml"
    source.write_text(text)
    with pytest.raises(DefinitionError) as err:
        read_file(source)
    assert (err.value.line, err.value.key) == (line, key)
    assert err.value.message == f"duplicate key (first given on line {first})"


def test_keys_that_differ_only_in_type_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    source = tmp_path / "m.yaml"
    source.write_text("base: &b {x: 1}\nm:\n  <<: *b\n  <<: {y: 2}\n  1: int\n  '1': str\n")
    data = read_file(source).data
    assert data["m"] == {"x": 1, "y": 2, 1: "int", "1": "str"}


TILE = '{"width": 6, "height": 4, "widget": {"title": "a", "blank": {}}}'
"""A tile of a dashboard; the JSON tests repeat one of its keys."""


@pytest.mark.parametrize(
    ("text", "line", "column", "key", "first"),
    [
        ('{\n  "displayName": "a",\n  "displayName": "b"\n}\n', 3, 3, "displayName", (2, 3)),
        (  # one long line, as an exported dashboard often is: the column tells them apart
            '{"mosaicLayout": {"tiles": ['
            + TILE
            + ", "
            + TILE.replace('"blank"', '"title"')
            + "]}}",
            1,
            146,
            "mosaicLayout.tiles[1].widget.title",
            (1, 132),
        ),
        # escaped and unicode keys compare as decoded; columns count characters, not bytes
        ('{"title": 1,\n "\\u0074itle": 2}', 2, 2, "title", (1, 2)),
        ('{"é": "ü", "caf\\u00e9": 1, "café": 2}', 1, 28, "café", (1, 12)),
        ('{"a\\"b": 1, "x": "{\\"a\\\\\\"b\\": 0}", "a\\"b": 2}', 1, 37, 'a"b', (1, 2)),
        # the first repeat in reading order, though json sees the inner object's one first
        ('{"a": 1, "a": 2, "b": {"x": 1, "x": 2}}', 1, 10, "a", (1, 2)),
    ],
)
def test_a_json_key_given_twice_is_refused_with_its_line_and_column(
    tmp_path: Path, text: str, line: int, column: int, key: str, first: tuple[int, int]
) -> None:
    source = tmp_path / "d.json"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        read_file(source)
    assert (err.value.line, err.value.column, err.value.key) == (line, column, key)
    message = f"duplicate key (first given on line {first[0]}, column {first[1]})"
    assert str(err.value) == f"{source}:{line}:{column}: {key}: {message}"


def test_the_same_json_key_in_different_objects_is_not_a_duplicate(tmp_path: Path) -> None:
    source = tmp_path / "d.json"
    text = '{"title": "t", "tiles": [' + TILE + ", " + TILE + '], "widget": {"title": "w"}}'
    source.write_text(text)
    assert read_file(source).data == json.loads(text)


@pytest.mark.parametrize(
    ("file", "content", "where"),
    [
        (
            "log_metrics/m.yaml",
            b"name: composer_obs/m\n\xff\xfe\n",
            "2: not UTF-8 text (byte 0xff at offset 21)",
        ),
        (
            "log_metrics/m.yaml",
            METRIC.encode() + b"filter: x\n",
            "4: filter: duplicate key (first given on line 3)",
        ),
        (
            "dashboards/d.json",
            b'{"displayName": "a",\n "displayName": "b"}',
            "2:2: displayName: duplicate key (first given on line 1, column 2)",
        ),
    ],
)
def test_provision_validate_refuses_without_a_traceback(
    tmp_path: Path, file: str, content: bytes, where: str
) -> None:
    _layout(tmp_path)
    path = tmp_path / file
    path.write_bytes(content)
    result = CliRunner().invoke(
        provision_app, ["validate", "--dir", str(tmp_path), "--project", "p"]
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    # the error console may wrap a long path: compare without the whitespace
    assert "".join(result.output.split()) == "".join(f"error: {path}:{where}".split())
