"""Routing on virtual time with the real receivers: timers elapse, stand-ins judge payloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alert_tests.helpers import REPO, flat, run_test_alerts

pytestmark = pytest.mark.integration

ROUTER = """\
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 2m
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['dag_id="paged_dag"']
      receiver: chat
receivers:
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:9/replaced-by-a-stand-in"}]
  - name: chat
    google_chat_configs:
      - url: "http://127.0.0.1:9/replaced-by-a-stand-in"
        text: "{{ '' }}"
# an empty text alone, no cause card: what Chat refuses
enrichment: {disabled_receivers: [chat]}
"""

TESTS = f"""\
policies: [{REPO}/alert_policies/dag_run_failed.yaml]
log_metrics: [{REPO}/log_metrics/dag_runs.yaml]
channels: {REPO}/notification_channels.yaml
router: router.yaml
tests:
  - name: group_wait delays the first notice
    run_for: 10m
    timeline:
      - at: 0s
        event: {{event_type: dag_run_failed, dag_id: nightly_export, team: data}}
    expect:
      incidents:
        - policy: Airflow DAG failed
          opens_within: 1m
      notifications:
        - receiver: hook
          kind: webhook
          text_contains: nightly_export
          within: WITHIN
"""


def _write(tmp_path: Path, within: str) -> Path:
    (tmp_path / "router.yaml").write_text(ROUTER, encoding="utf-8")
    path = tmp_path / "timing.yaml"
    path.write_text(TESTS.replace("WITHIN", within), encoding="utf-8")
    return path


def test_the_notice_comes_after_group_wait(tmp_path: Path) -> None:
    result = run_test_alerts(_write(tmp_path, "3m"))
    assert result.exit_code == 0, result.output


def test_expecting_it_before_group_wait_fails(tmp_path: Path) -> None:
    result = run_test_alerts(_write(tmp_path, "2m30s"))
    assert result.exit_code == 1, result.output
    assert (
        "expected webhook 'hook' firing containing 'nightly_export' by 2m30s; "
        "got: webhook 'hook' firing severity=error at 3m"
    ) in flat(result.output)


def test_a_payload_the_service_refuses_fails_the_test(tmp_path: Path) -> None:
    path = _write(tmp_path, "3m")
    text = path.read_text(encoding="utf-8").replace("nightly_export", "paged_dag")
    path.write_text(text.replace("receiver: hook", "receiver: chat"), encoding="utf-8")
    result = run_test_alerts(path)
    assert result.exit_code == 1, result.output
    out = flat(result.output)
    assert "a stand-in refused google_chat 'chat' firing severity=error at 3m" in out
    assert "Message cannot be empty" in out


def test_without_a_router_only_incidents_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "incidents.yaml"
    path.write_text(
        f"""\
policies: [{REPO}/alert_policies/dag_run_failed.yaml]
log_metrics: [{REPO}/log_metrics/dag_runs.yaml]
channels: {REPO}/notification_channels.yaml
tests:
  - name: a raw entry shaped like the callbacks' counts too
    run_for: 5m
    timeline:
      - at: 30s
        log_entry:
          severity: ERROR
          jsonPayload: {{event_type: dag_run_failed, dag_id: legacy_dag, team: data}}
    expect:
      incidents:
        - policy: Airflow DAG failed
          labels: {{dag_id: legacy_dag, team: data}}
          opens_within: 1m
          stays_open: true
""",
        encoding="utf-8",
    )
    result = run_test_alerts(path)
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.output
