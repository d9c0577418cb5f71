"""Configuration errors name file, line and key; the CLI's check-config and routes test."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.router.cli import router_app, routes_app
from observability.router.config import ConfigError, load_config, parse_config
from observability.router.incident import WebhookPayload, incident_labels
from observability.router.notice import Notice
from observability.router.receivers.pagerduty import PagerDuty, PagerDutyConfig
from observability.router.templates import Templates

EXAMPLES = Path(__file__).parents[2] / "examples" / "router"
BASE = """
route:
  receiver: a
  routes:
    - matchers: ['team="data"']
      receiver: b
receivers:
  - name: a
  - name: b
"""


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            ("receiver: b", "receiver: c"),
            "test.yaml:6: route.routes.0.receiver: undefined receiver 'c'",
        ),
        (('team="data"', 'team=~"("'), "test.yaml:5: route.routes.0.matchers: invalid regex"),
        (
            ("receiver: b", "receiver: b\n      group_wait: 5x"),
            "test.yaml:7: route.routes.0.group_wait: not a duration",
        ),
        (
            ("receiver: b", "receiver: b\n      grouping: [a]"),
            "test.yaml:7: route.routes.0.grouping: Extra inputs are not permitted",
        ),
        (("  - name: b", "  - name: a"), "test.yaml:9: receivers.1.name: duplicate receiver"),
        (("routes:", "routes: [\n"), "test.yaml:"),
        (
            ("receiver: b", "receiver: b\n      receiver: a"),
            "test.yaml:7: route.routes.0.receiver: duplicate key (first given on line 6)",
        ),
    ],
)
def test_config_errors_are_one_line_with_file_line_and_key(
    mutation: tuple[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(BASE.replace(*mutation), "test.yaml", Path("."))
    assert str(error.value).startswith(expected), str(error.value)
    assert "\n" not in str(error.value)


def test_secrets_come_from_files_and_templates_from_globs(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("K" * 32 + "\n")
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "pagerduty.summary.j2").write_text("custom {{ status }}")
    config = parse_config(
        "templates: ['tpl/*.j2']\nroute: {receiver: p}\n"
        "receivers: [{name: p, pagerduty_configs: [{routing_key_file: key}]}]\n",
        "t.yaml",
        tmp_path,
    )
    [integration] = config.receivers["p"].integrations
    assert isinstance(integration, PagerDuty) and integration.routing_key == "K" * 32
    notice = Notice(
        "n",
        "p",
        "g",
        {},
        [
            {
                "status": "firing",
                "labels": {"severity": "bogus"},
                "annotations": {},
                "startsAt": "t",
                "endsAt": "t",
                "generatorURL": "",
                "fingerprint": "f",
            }
        ],
        "",
        0,
    )
    [event] = integration.events(notice)
    assert event["payload"]["summary"] == "custom firing"
    assert event["payload"]["severity"] == "error"  # unknown severities map to PagerDuty's
    assert event["dedup_key"] == "f"
    with pytest.raises(ConfigError, match="routing_key"):
        parse_config(
            "route: {receiver: p}\nreceivers: [{name: p, pagerduty_configs: [{}]}]",
            "t.yaml",
            tmp_path,
        )


def test_group_dedup_mode_pages_once_per_group() -> None:
    config = PagerDutyConfig.model_validate({"routing_key": "k" * 32, "dedup": "group"})
    pagerduty = PagerDuty("p", 0, config, Templates(), None, Path("."))
    alerts = [
        {
            "status": s,
            "labels": {"incident_id": i},
            "annotations": {},
            "startsAt": "t",
            "endsAt": "t",
            "generatorURL": "",
            "fingerprint": i,
        }
        for i, s in (("a", "firing"), ("b", "resolved"))
    ]
    [event] = pagerduty.events(Notice("n", "p", "key", {}, alerts, "", 0))
    assert event["event_action"] == "trigger" and len(event["dedup_key"]) == 64


def test_incident_labels_and_leniency() -> None:
    payload = WebhookPayload.model_validate(
        {
            "version": 1.2,
            "incident": {
                "incident_id": "i",
                "state": "OPEN",
                "severity": "no severity",
                "policy_user_labels": {"severity": "critical", "team": "data"},
                "resource": {
                    "type": "cloud_composer_environment",
                    "labels": {"environment_name": "prod"},
                },
                "metric": {"labels": {"dag_id": "etl", "state": "metric state"}},
                "documentation": "plain text",
                "brand_new_field": 1,
            },
        }
    )
    labels = incident_labels(payload.incident)
    assert labels == {
        "environment_name": "prod",
        "dag_id": "etl",
        "severity": "critical",
        "team": "data",
        "resource_type": "cloud_composer_environment",
        "alertname": "CloudMonitoringIncident",
        "incident_id": "i",
        "state": "open",
    }
    assert payload.model_dump()["incident"]["brand_new_field"] == 1


def test_check_config_command() -> None:
    runner = CliRunner()
    good = runner.invoke(router_app, ["check-config", str(EXAMPLES / "data-team.yaml")])
    assert good.exit_code == 0 and "ok: 7 routes" in good.output, good.output
    missing = runner.invoke(router_app, ["check-config", "/nonexistent.yaml"])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_routes_test_command_single_and_cases() -> None:
    runner = CliRunner()
    config = str(EXAMPLES / "data-team.yaml")
    single = runner.invoke(
        routes_app,
        [
            "test",
            "-c",
            config,
            "environment_name=prod",
            "severity=critical",
            "alertname=Airflow DAG failed",
        ],
    )
    assert single.exit_code == 0 and single.output.strip() == "data-pager,data-slack"
    cases = runner.invoke(
        routes_app, ["test", "-c", config, "--cases", str(EXAMPLES / "data-team-cases.yaml")]
    )
    assert cases.exit_code == 0, cases.output
    assert "8 passed, 0 failed" in cases.output


def test_example_config_loads() -> None:
    config = load_config(EXAMPLES / "data-team.yaml")
    assert set(config.receivers) == {
        "data-slack",
        "data-pager",
        "platform-pager",
        "ml-chat",
        "finance-email",
    }


def test_serve_ignores_a_reload_signal_until_its_handlers_are_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGHUP's default action ends the process: one sent while the router starts (before
    uvicorn and the handlers are imported and installed) must not."""
    from observability.router import workers

    seen: list[object] = []

    def run(*_: object) -> int:
        seen.append(signal.getsignal(signal.SIGHUP))
        return 0

    monkeypatch.setattr(workers, "serve", run)
    config = tmp_path / "router.yaml"
    config.write_text(BASE)
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        result = CliRunner().invoke(
            router_app,
            ["serve", "-c", str(config), "--database-url", f"sqlite:///{tmp_path / 'r.db'}"],
            env={"COMPOSER_OBS_ROUTER_ALLOW_UNAUTHENTICATED": "true"},
        )
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert result.exit_code == 0, result.output
    assert seen == [signal.SIG_IGN]


def test_a_configuration_that_is_not_utf8_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_bytes(BASE.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"router.yaml: not UTF-8 text \(byte \d+\)"):
        load_config(path)
