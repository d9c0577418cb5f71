"""Microsoft Teams (both webhooks), Opsgenie and Jira, delivered by a real router process over
HTTP to stand-ins that check payloads, headers and authentication as the services document them;
429 and 5xx answers are retried (after the ``Retry-After`` asked for), other 4xx are dead letters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.waiting import wait_for
from observability.standins import (
    JiraStandIn,
    OpsgenieStandIn,
    StandIn,
    TeamsConnectorStandIn,
    TeamsWorkflowStandIn,
    serving,
)
from tests.router.harness import RouterProcess, incident

pytestmark = pytest.mark.integration


def config(fakes: dict[str, Any], secrets: Path) -> str:
    jira: JiraStandIn = fakes["jira"]
    opsgenie: OpsgenieStandIn = fakes["opsgenie"]
    (secrets / "genie").write_text(opsgenie.api_key + "\n")
    return f"""
global:
  opsgenie_api_url: http://127.0.0.1:{opsgenie.port}
  jira_api_url: {jira.url}
route:
  receiver: teams
  group_by: [alertname, dag_id]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{matchers: ['team="ops"'], receiver: opsgenie}}
    - {{matchers: ['team="tickets"'], receiver: jira}}
    - {{matchers: ['team="bad-key"'], receiver: opsgenie-bad-key}}
    - {{matchers: ['team="bad-project"'], receiver: jira-bad-project}}
receivers:
  - name: teams
    msteamsv2_configs:
      - webhook_url: "{fakes["teams_v2"].url}"
    msteams_configs:
      - webhook_url: "{fakes["teams_v1"].url}"
  - name: opsgenie
    opsgenie_configs:
      - api_key_file: genie
        tags: "composer,{{{{ common_labels.dag_id }}}}"
        responders:
          - {{type: teams, name: "data-eng,platform"}}
          - {{username: a@example.com, type: user}}
        details: {{runbook: "https://runbooks/{{{{ common_labels.dag_id }}}}"}}
  - name: opsgenie-bad-key
    opsgenie_configs:
      - api_key: not-the-key
  - name: jira
    jira_configs:
      - project: OPS
        issue_type: Incident
        labels: [composer, "{{{{ common_labels.dag_id }}}}"]
        resolve_transition: Done
        reopen_transition: Reopen
        reopen_duration: 1h
        wont_fix_resolution: "Won't Do"
        fields: {{customfield_10010: {{value: "{{{{ common_labels.severity }}}}"}}}}
        http_config:
          basic_auth: {{username: {jira.email}, password: {jira.token}}}
  - name: jira-bad-project
    jira_configs:
      - project: NOPE
        issue_type: Task
        http_config:
          basic_auth: {{username: {jira.email}, password: {jira.token}}}
delivery:
  timeout: 2s
  initial_backoff: 200ms
  max_backoff: 1500ms
  lease: 5s
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    fakes: dict[str, StandIn] = {
        "teams_v2": TeamsWorkflowStandIn(name="teams_v2"),
        "teams_v1": TeamsConnectorStandIn(name="teams_v1"),
        "opsgenie": OpsgenieStandIn(name="opsgenie"),
        "jira": JiraStandIn(name="jira"),
    }
    directory = tmp_path_factory.mktemp("receivers")
    with serving(fakes):
        router = RouterProcess(directory, config(fakes, directory))
        router.start()
        try:
            yield {"router": router, **fakes}
        finally:
            router.close()


def test_teams_cards_firing_then_resolved(world: dict[str, Any]) -> None:
    router: RouterProcess = world["router"]
    workflow: TeamsWorkflowStandIn = world["teams_v2"]
    connector: TeamsConnectorStandIn = world["teams_v1"]
    workflow.fail_next(429)
    assert router.post_incident(incident("teams-1", dag_id="teams_dag")).status_code == 200
    cards = wait_for(lambda: workflow.bodies() or None, message="an Adaptive Card")
    waited = workflow.received[0].at - workflow.failed_at[0]
    assert waited >= 0.9, f"retried {waited:.2f}s after a 429 asking for 1s"
    heading, text = cards[0]["attachments"][0]["content"]["body"]
    # Markdown-escaped (Teams shows `teams\_dag` as teams_dag)
    assert heading["color"] == "Attention" and "teams\\_dag" in heading["text"]
    assert "Alerts firing" in text["text"]
    card = wait_for(lambda: connector.bodies() or None, message="a MessageCard")[0]
    assert card["themeColor"] == "8C1A1A" and card["summary"]
    router.post_incident(incident("teams-1", state="closed", dag_id="teams_dag"))
    resolved = wait_for(lambda: workflow.bodies()[1:] or None, message="the resolved card")[0]
    assert resolved["attachments"][0]["content"]["body"][0]["color"] == "Good"
    wait_for(lambda: len(connector.bodies()) >= 2, message="the resolved MessageCard")
    assert connector.bodies()[1]["themeColor"] == "2DC72D"


def test_opsgenie_creates_then_closes_by_alias(world: dict[str, Any]) -> None:
    router: RouterProcess = world["router"]
    opsgenie: OpsgenieStandIn = world["opsgenie"]
    opsgenie.fail_next(503)
    router.post_incident(incident("ops-1", severity="CRITICAL", dag_id="ops_dag", team="ops"))
    created = wait_for(lambda: list(opsgenie.alerts.values()) or None, message="an alert")[0]
    body = created["create"]
    assert body["priority"] == "P1" and body["tags"] == ["composer", "ops_dag"]
    assert body["responders"] == [
        {"name": "data-eng", "type": "team"},
        {"name": "platform", "type": "team"},
        {"username": "a@example.com", "type": "user"},
    ]
    assert body["details"]["runbook"] == "https://runbooks/ops_dag"
    assert body["details"]["dag_id"] == "ops_dag" and len(body["alias"]) == 64
    router.post_incident(
        incident("ops-1", state="closed", severity="CRITICAL", dag_id="ops_dag", team="ops")
    )
    wait_for(lambda: created["status"] == "closed", message="the alert closed")
    close = next(r for r in opsgenie.received if r.path.endswith("/close"))
    assert close.path == f"POST /v2/alerts/{body['alias']}/close"
    assert close.query == {"identifierType": ["alias"]}


def test_jira_creates_comments_resolves_and_reopens(world: dict[str, Any]) -> None:
    router: RouterProcess = world["router"]
    jira: JiraStandIn = world["jira"]
    jira.fail_next(429, 500)
    router.post_incident(incident("jira-1", dag_id="etl_jira", team="tickets"))
    issue = wait_for(lambda: jira.issues.get("OPS-1"), message="an issue")
    fields = issue["fields"]
    assert fields["issuetype"] == {"name": "Incident"} and fields["project"] == {"key": "OPS"}
    assert fields["customfield_10010"] == {"value": "error"}
    assert "composer" in fields["labels"] and "etl_jira" in fields["labels"]
    assert any(label.startswith("ALERT{") for label in fields["labels"])
    router.post_incident(
        incident("jira-2", dag_id="etl_jira", team="tickets")
    )  # the group changes: update and comment
    wait_for(lambda: issue["comments"], message="a comment on the repeat")
    for incident_id in ("jira-1", "jira-2"):
        router.post_incident(
            incident(incident_id, state="closed", dag_id="etl_jira", team="tickets")
        )
    wait_for(lambda: issue["status"] == "Done", message="the issue resolved")
    router.post_incident(incident("jira-3", dag_id="etl_jira", team="tickets"))
    wait_for(lambda: issue["status"] == "To Do", message="the issue reopened")
    assert issue["transitions"] == ["Done", "Reopen"] and len(jira.issues) == 1


def test_client_errors_are_dead_letters_at_once(world: dict[str, Any]) -> None:
    router: RouterProcess = world["router"]
    router.post_incident(incident("bad-key-1", dag_id="bad_key", team="bad-key"))
    router.post_incident(incident("bad-project-1", dag_id="bad_project", team="bad-project"))

    def dead() -> dict[str, Any] | None:
        letters = router.admin.get("/api/v1/dead-letters").json()
        found = {letter["receiver"]: letter for letter in letters}
        return found if {"opsgenie-bad-key", "jira-bad-project"} <= found.keys() else None

    letters = wait_for(dead, message="two dead letters")
    assert letters["opsgenie-bad-key"]["reason"] == "authError"
    assert letters["jira-bad-project"]["reason"] == "clientError"
    assert "valid project is required" in letters["jira-bad-project"]["error"]
    assert all(letter["attempts"] == 1 for letter in letters.values())
