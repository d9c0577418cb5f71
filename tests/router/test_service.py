"""The router as a service: a real process over HTTP, with fake Slack, PagerDuty, Chat, SMTP.

One router (and one set of fakes) serves this module; every test uses its own DAG ids and
incident ids, and looks only at the notifications about them.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.message import Message
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from examples.waiting import wait_for
from observability.emulator.process import free_port_pair
from observability.router.cli import silence_app
from observability.router.journal import (
    CLOUD_MONITORING,
    JournalRecord,
    JournalWriter,
    journal_directory,
)
from observability.standins import (
    GoogleChatStandIn,
    PagerDutyStandIn,
    SlackStandIn,
    SmtpStandIn,
    StandIn,
    WebhookStandIn,
    serving,
    smtp_server,
)
from tests.router.harness import (
    ADMIN_TOKEN,
    BASIC_PASSWORD,
    BASIC_USER,
    FAST_TIMERS,
    INGEST_TOKEN,
    RouterProcess,
    incident,
)

pytestmark = pytest.mark.integration


def service_config(fakes: dict[str, StandIn], smtp: SmtpStandIn) -> str:
    return (
        f"""
route:
  receiver: slack
  group_by: [alertname, dag_id]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['team="ml"']
      receiver: chat
    - matchers: ['team="finance"']
      receiver: mail
    - matchers: ['source="prometheus"']
      receiver: hook
    - receiver: slack
inhibit_rules:
  - source_matchers: ['alertname="ComposerEnvironmentUnhealthy"']
    target_matchers: ['alertname="Airflow task failed"']
    equal: [environment_name]
receivers:
  - name: slack
    slack_configs:
      - api_url: {fakes["slack"].url}
        channel: "#data-alerts"
        send_resolved: true
  - name: pager
    pagerduty_configs:
      - routing_key: {PagerDutyStandIn.routing_key}
        url: {fakes["pagerduty"].url}
  - name: chat
    google_chat_configs:
      - url: "{fakes["chat"].url}"
  - name: mail
    email_configs:
      - to: oncall@example.com
        from: router@example.com
        smarthost: {smtp.host}:{smtp.port}
        require_tls: false
        send_resolved: true
  - name: hook
    webhook_configs:
      - url: {fakes["webhook"].url}
"""
        + FAST_TIMERS
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    fakes: dict[str, StandIn] = {
        "slack": SlackStandIn(name="slack"),
        "pagerduty": PagerDutyStandIn(name="pagerduty"),
        "chat": GoogleChatStandIn(name="chat"),
        "webhook": WebhookStandIn(name="webhook"),
    }
    with serving(fakes), smtp_server(free_port_pair()) as smtp:
        router = RouterProcess(tmp_path_factory.mktemp("service"), service_config(fakes, smtp))
        router.start()
        try:
            yield {"router": router, "smtp": smtp, **fakes}
        finally:
            router.close()


def _decoded(part: Message) -> str:
    """A MIME leaf part's text, its transfer encoding undone."""
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes), payload
    return payload.decode()


def slack_texts_about(slack: StandIn, needle: str) -> list[str]:
    return [json.dumps(body) for body in slack.bodies() if needle in json.dumps(body)]


def uid() -> str:
    return uuid.uuid4().hex[:8]


def outcomes(router: RouterProcess, incident_id: str) -> list[tuple[str, str]]:
    """(state, outcome) of each event of the incident, from the router's history API."""
    history = router.admin.get(f"/api/v1/incidents/{incident_id}")
    history.raise_for_status()
    return [(event["state"], event["outcome"]) for event in history.json()["events"]]


def received(router: RouterProcess, outcome: str) -> float:
    """The router's count of Cloud Monitoring deliveries with ``outcome``."""
    metrics = router.ingest.get("/metrics").text
    labels = f'outcome="{outcome}",source="cloud_monitoring"'
    series = f"composer_obs_router_alerts_received_total{{{labels}}}"
    found = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_duplicate_deliveries_of_one_incident_give_one_notification(world: dict) -> None:
    router: RouterProcess = world["router"]
    dag = f"dup_{uid()}"
    body = incident(f"inc-{dag}", dag_id=dag)
    before = received(router, "duplicate")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: router.post_incident(body), range(10)))
    assert all(answer.status_code == 200 for answer in answers)
    assert {answer.json()["status"] for answer in answers} == {"accepted"}
    # Reads wait for what was acknowledged: one event stored, nine duplicates counted.
    assert outcomes(router, f"inc-{dag}") == [("open", "stored")]
    assert received(router, "duplicate") - before == 9
    wait_for(lambda: slack_texts_about(world["slack"], dag), message="the Slack notice")
    time.sleep(2.5)  # one more group_interval: nothing new to say, so nothing said
    assert len(slack_texts_about(world["slack"], dag)) == 1


def test_open_then_close_triggers_then_resolves_the_same_page(world: dict) -> None:
    router: RouterProcess = world["router"]
    pagerduty: PagerDutyStandIn = world["pagerduty"]
    dag = f"page_{uid()}"
    incident_id = f"0.{dag}"
    answer = router.post_incident(incident(incident_id, severity="CRITICAL", dag_id=dag))
    assert answer.json()["status"] == "accepted"

    def events() -> list[dict]:
        return [b for b in pagerduty.bodies() if b.get("dedup_key") == incident_id]

    wait_for(events, message="the PagerDuty trigger")
    closed = incident(incident_id, state="closed", severity="CRITICAL", dag_id=dag)
    assert router.post_incident(closed).json()["status"] == "accepted"
    assert outcomes(router, incident_id) == [("open", "stored"), ("closed", "stored")]
    wait_for(lambda: len(events()) >= 2, message="the PagerDuty resolve")
    trigger, resolve = events()
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["component"] == dag
    assert trigger["links"][0]["href"].endswith(incident_id)
    assert resolve == {
        "routing_key": PagerDutyStandIn.routing_key,
        "event_action": "resolve",
        "dedup_key": incident_id,
    }
    # continue: true, so the catch-all Slack route heard about it too: firing, then resolved.
    wait_for(lambda: len(slack_texts_about(world["slack"], dag)) >= 2, message="slack resolve")
    assert "RESOLVED" in slack_texts_about(world["slack"], dag)[-1]

    def delivered() -> list[dict]:
        # A receiver has the notice a moment before the router records it as delivered.
        history = router.admin.get(f"/api/v1/incidents/{incident_id}").json()
        assert [event["state"] for event in history["events"]] == ["open", "closed"]
        found = [n for n in history["notifications"] if n["outcome"] == "delivered"]
        return found if len(found) == 4 else []

    notices = wait_for(delivered, message="four deliveries in the incident's history")
    assert {(n["integration"], n["status"]) for n in notices} == {
        ("pager/pagerduty/0", "firing"),
        ("pager/pagerduty/0", "resolved"),
        ("slack/slack/0", "firing"),
        ("slack/slack/0", "resolved"),
    }


def test_authentication(world: dict) -> None:
    router: RouterProcess = world["router"]
    body = incident(f"auth-{uid()}", dag_id="auth")
    url = "/v1/webhooks/cloud-monitoring"
    anonymous = router.ingest.post(url, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic ")
    assert "error" in anonymous.json()
    assert router.ingest.post(url, json=body, params={"auth_token": "wrong"}).status_code == 401
    basic = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    assert (
        router.ingest.post(url, json=body, headers={"Authorization": f"Basic {basic}"}).status_code
        == 200
    )
    wrong = base64.b64encode(f"{BASIC_USER}:nope".encode()).decode()
    assert (
        router.ingest.post(url, json=body, headers={"Authorization": f"Basic {wrong}"}).status_code
        == 401
    )
    assert (
        router.ingest.post(
            url, json=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        ).status_code
        == 200
    )
    # Separate secrets: the admin token does not ingest, the ingest token does not administer.
    assert (
        router.ingest.post(
            url, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ).status_code
        == 401
    )
    assert router.ingest.get("/api/v2/silences").status_code == 401
    assert (
        router.ingest.get(
            "/api/v2/silences", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        ).status_code
        == 401
    )
    assert router.admin.get("/api/v2/silences").status_code == 200
    assert router.ingest.get("/healthz").status_code == 200


def test_bad_input_is_refused_with_a_reason(world: dict) -> None:
    router: RouterProcess = world["router"]
    url = "/v1/webhooks/cloud-monitoring"
    params = {"auth_token": INGEST_TOKEN}
    malformed = router.ingest.post(url, content=b'{"version": "1.2", "incident": {', params=params)
    assert malformed.status_code == 400
    assert malformed.json()["error"].startswith("malformed JSON")
    wrong_type = router.ingest.post(
        url,
        params=params,
        json={"incident": {"incident_id": "x", "state": "open", "started_at": "yesterday"}},
    )
    assert wrong_type.status_code == 422
    assert "incident.started_at" in wrong_type.json()["error"]
    assert router.ingest.post(url, params=params, json=[1, 2]).status_code == 422
    assert router.ingest.post(url, params=params, json={"version": "1.2"}).status_code == 422
    assert router.ingest.post(url, params=params, content=b"").status_code == 400
    huge = (
        b'{"incident": {"incident_id": "big", "state": "open", "summary": "'
        + b"x" * (2 * 1024 * 1024)
        + b'"}}'
    )
    too_big = router.ingest.post(url, params=params, content=huge)
    assert too_big.status_code == 413
    chunked = router.ingest.post(url, params=params, content=iter([huge[:1000], huge[1000:]]))
    assert chunked.status_code == 413
    # Old senders, test notifications, unknown fields and unicode are all fine.
    minimal = {
        "version": "test",
        "incident": {
            "incident_id": f"t-{uid()}",
            "state": "open",
            "summary": "test notification",
            "documentation": "plain string docs",
            "something_new": {"nested": True},
        },
    }
    assert router.ingest.post(url, params=params, json=minimal).status_code == 200
    dag = f"ünïcødé_{uid()}_📈"
    answer = router.post_incident(incident(f"u-{uid()}", dag_id=dag, team="données"))
    assert answer.status_code == 200
    wait_for(
        lambda: slack_texts_about(world["slack"], json.dumps(dag)[1:-1]), message="a unicode notice"
    )
    am = router.ingest.post("/api/v2/alerts", params=params, json=[{"labels": {}}])
    assert am.status_code == 422 and "labels" in am.json()["error"]
    metrics = router.ingest.get("/metrics").text
    assert 'composer_obs_router_requests_invalid_total{reason="too_large"} 2.0' in metrics
    assert 'reason="malformed_json"' in metrics


def test_silence_mutes_what_it_matches_and_nothing_else(world: dict) -> None:
    router: RouterProcess = world["router"]
    runner = CliRunner()
    tag = uid()
    common = ["--url", router.url, "--token", ADMIN_TOKEN]
    added = runner.invoke(
        silence_app,
        [
            "add",
            f'dag_id="quiet_{tag}"',
            "--duration",
            "1h",
            "--comment",
            "maintenance",
            "--author",
            "ops",
            *common,
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(silence_app, ["list", *common])
    assert silence_id in listed.output and "maintenance" in listed.output
    router.post_incident(incident(f"q-{tag}", dag_id=f"quiet_{tag}"))
    router.post_incident(incident(f"l-{tag}", dag_id=f"loud_{tag}"))
    wait_for(lambda: slack_texts_about(world["slack"], f"loud_{tag}"), message="the loud DAG")
    alerts = router.admin.get("/api/v2/alerts", params={"filter": f'dag_id="quiet_{tag}"'}).json()
    assert alerts[0]["status"]["silencedBy"] == [silence_id]
    time.sleep(2.5)
    assert not slack_texts_about(world["slack"], f"quiet_{tag}")
    expired = runner.invoke(silence_app, ["expire", silence_id, *common])
    assert expired.exit_code == 0, expired.output
    # Once the silence ends, the still-firing alert is news at the group's next flush.
    wait_for(lambda: slack_texts_about(world["slack"], f"quiet_{tag}"), message="unsilenced")
    audit = router.admin.get("/api/v1/audit").json()
    assert {"silence.save", "silence.expire"} <= {entry["action"] for entry in audit}


def test_inhibition_mutes_the_failures_an_unhealthy_environment_causes(world: dict) -> None:
    router: RouterProcess = world["router"]
    tag = uid()
    env = f"prod_{tag}"
    router.post_incident(
        incident(
            f"env-{tag}",
            policy="ComposerEnvironmentUnhealthy",
            environment_name=env,
            dag_id=f"env_{tag}",
        )
    )
    wait_for(lambda: slack_texts_about(world["slack"], f"env_{tag}"), message="the source")
    router.post_incident(incident(f"a-{tag}", environment_name=env, dag_id=f"hidden_{tag}"))
    router.post_incident(
        incident(f"b-{tag}", environment_name=f"staging_{tag}", dag_id=f"shown_{tag}")
    )
    wait_for(lambda: slack_texts_about(world["slack"], f"shown_{tag}"), message="other env")
    time.sleep(2.5)
    assert not slack_texts_about(world["slack"], f"hidden_{tag}")
    inhibited = router.admin.get("/api/v2/alerts", params={"filter": f'dag_id="hidden_{tag}"'})
    assert inhibited.json()[0]["status"]["state"] == "suppressed"
    assert inhibited.json()[0]["status"]["inhibitedBy"]


def test_google_chat_and_email(world: dict) -> None:
    router: RouterProcess = world["router"]
    chat: GoogleChatStandIn = world["chat"]
    smtp: SmtpStandIn = world["smtp"]
    tag = uid()
    router.post_incident(incident(f"ml-{tag}", dag_id=f"train_{tag}", team="ml"))
    router.post_incident(incident(f"fin-{tag}", dag_id=f"ledger_{tag}", team="finance"))
    wait_for(lambda: [b for b in chat.bodies() if f"train_{tag}" in b["text"]], message="chat")
    message = next(item for item in chat.received if f"train_{tag}" in item.body["text"])
    assert message.query["threadKey"] and message.query["key"] == ["chat-key"]
    mail = wait_for(
        lambda: [m for m in smtp.messages if f"ledger_{tag}" in m["Subject"]], message="the email"
    )[0]
    assert mail["To"] == "oncall@example.com"
    parts = {
        part.get_content_type(): _decoded(part) for part in mail.walk() if not part.is_multipart()
    }
    assert f"ledger_{tag}" in parts["text/plain"] and "<table>" in parts["text/html"]


def test_alertmanager_api_alerts_reach_a_v4_webhook(world: dict) -> None:
    router: RouterProcess = world["router"]
    webhook: WebhookStandIn = world["webhook"]
    tag = uid()
    alert = {
        "labels": {"alertname": "HighLag", "source": "prometheus", "dag_id": tag},
        "annotations": {"summary": "lag"},
        "generatorURL": "http://prometheus/graph",
    }
    params = {"auth_token": INGEST_TOKEN}
    assert router.ingest.post("/api/v2/alerts", params=params, json=[alert]).status_code == 200

    def about() -> list[dict]:
        return [b for b in webhook.bodies() if b["commonLabels"].get("dag_id") == tag]

    first = wait_for(about, message="the v4 payload")[0]
    assert first["status"] == "firing" and first["receiver"] == "hook"
    assert first["externalURL"] == "https://router.example.com"
    assert first["alerts"][0]["generatorURL"] == "http://prometheus/graph"
    resolved = {**alert, "endsAt": "2020-01-01T00:00:00Z"}
    assert router.ingest.post("/api/v2/alerts", params=params, json=[resolved]).status_code == 200
    wait_for(lambda: any(b["status"] == "resolved" for b in about()), message="the resolve")


def test_metrics_groups_and_status(world: dict) -> None:
    router: RouterProcess = world["router"]
    # The latency histograms have a series once an alert was taken in and notified: this
    # test's own, so that it passes alone and in any order.
    dag = f"metrics_{uid()}"
    router.post_incident(incident(f"inc-{dag}", dag_id=dag))
    names = (
        "composer_obs_router_alerts_received_total",
        "composer_obs_router_notifications_total",
        "composer_obs_router_outbox_depth",
        "composer_obs_router_ingest_latency_seconds_bucket",
        "composer_obs_router_notification_latency_seconds_bucket",
    )
    wait_for(
        lambda: all(name in router.ingest.get("/metrics").text for name in names),
        message=f"every one of {names} in /metrics",
    )
    assert router.admin.get("/api/v2/alerts/groups").status_code == 200
    assert router.admin.get("/api/v2/status").json()["database"] == "sqlite"
    assert router.ingest.get("/readyz").json()["status"] == "ready"


def test_no_secret_reaches_the_log(world: dict) -> None:
    router: RouterProcess = world["router"]
    router.post_incident(incident(f"log-{uid()}", dag_id="log"))
    log = router.log()
    assert "POST /v1/webhooks/cloud-monitoring 200" in log
    for secret in (
        INGEST_TOKEN,
        ADMIN_TOKEN,
        BASIC_PASSWORD,
        PagerDutyStandIn.routing_key,
        "XXXXXXXXXXXXXXXXXXXXXXXX",
        "chat-token",
    ):
        assert secret not in log


def test_a_receiver_that_is_down_gets_everything_once_back(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    pagerduty = fakes["pagerduty"]
    config = (
        f"""
route:
  receiver: pager
  group_by: [incident_id]
  group_wait: 200ms
  group_interval: 1s
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: {PagerDutyStandIn.routing_key}
        url: {pagerduty.url}
"""
        + FAST_TIMERS
    )
    router = router_factory(config)
    pagerduty.stop()
    ids = [f"down-{index}" for index in range(5)]
    for incident_id in ids:
        assert router.post_incident(incident(incident_id, dag_id=incident_id)).status_code == 200
    wait_for(lambda: "will be retried (attempt 3)" in router.log(), message="retries")
    pagerduty.start()  # back on the same port
    pagerduty.fail_next(500, 429)  # and still flaky for a moment
    triggers = wait_for(
        lambda: pagerduty.bodies() if len(pagerduty.bodies()) >= 5 else None,
        message="every page after the outage",
    )
    time.sleep(1.5)
    assert sorted(b["dedup_key"] for b in pagerduty.bodies()) == sorted(ids)
    assert all(b["event_action"] == "trigger" for b in triggers)
    metrics = router.ingest.get("/metrics").text
    assert 'reason="serverError"' in metrics and 'reason="rateLimited"' in metrics


def test_a_journaled_request_that_cannot_be_stored_is_listed_not_lost(world: dict) -> None:
    """A record another process journaled that no longer validates (as after an upgrade):
    the router keeps it aside with its body and applies what follows it."""
    router: RouterProcess = world["router"]
    directory = journal_directory(make_url(router.database_url).database or "")
    other_process = JournalWriter(directory)
    other_process.start()
    body = b'{"version": "1.2", "incident": {"state": "open", "summary": "no id"}}'
    dag = f"after_{uid()}"
    try:
        asyncio.run(other_process.append(JournalRecord(CLOUD_MONITORING, time.time(), body)))
    finally:
        other_process.close()
    assert router.post_incident(incident(f"inc-{dag}", dag_id=dag)).status_code == 200
    assert outcomes(router, f"inc-{dag}") == [("open", "stored")]
    kept = wait_for(
        lambda: [
            r for r in router.admin.get("/api/v1/rejected-requests").json() if "no id" in r["body"]
        ],
        message="the rejected request listed",
    )
    assert kept[0]["source"] == CLOUD_MONITORING
    assert "incident_id" in kept[0]["error"]
    assert router.ingest.get("/api/v1/rejected-requests").status_code == 401


def test_a_client_error_is_a_dead_letter(router_factory: Any, fakes: dict[str, StandIn]) -> None:
    config = (
        f"""
route:
  receiver: pager
  group_wait: 200ms
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: too-short
        url: {fakes["pagerduty"].url}
"""
        + FAST_TIMERS
    )
    router = router_factory(config)
    router.post_incident(incident("dead-1", dag_id="dead"))
    dead = wait_for(lambda: router.admin.get("/api/v1/dead-letters").json(), message="a dead one")
    assert dead[0]["reason"] == "clientError" and dead[0]["attempts"] == 1
    assert "routing_key" in dead[0]["error"]
    history = router.admin.get("/api/v1/incidents/dead-1").json()
    assert history["notifications"][0]["outcome"] == "dead"


def test_reload_keeps_a_working_config_and_applies_a_good_one(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    slack, webhook = fakes["slack"], fakes["webhook"]
    good = (
        f"""
route:
  receiver: slack
  group_wait: 200ms
  group_interval: 1s
receivers:
  - name: slack
    slack_configs: [{{api_url: "{slack.url}"}}]
  - name: hook
    webhook_configs: [{{url: "{webhook.url}"}}]
"""
        + FAST_TIMERS
    )
    router = router_factory(good)
    router.config_path.write_text(good.replace("group_wait: 200ms", "group_wait: soon"))
    refused = router.admin.post("/-/reload")
    assert refused.status_code == 400
    assert "router.yaml:4: route.group_wait" in refused.json()["error"]
    assert router.admin.post("/-/reload").status_code == 400
    router.post_incident(incident("reload-1", dag_id="before"))
    wait_for(lambda: slack.bodies(), message="slack with the old config")
    router.config_path.write_text(
        good.replace("receiver: slack\n  group_wait", "receiver: hook\n  group_wait")
    )
    assert router.process is not None
    os.kill(router.process.pid, signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in router.log(), message="the SIGHUP reload")
    router.post_incident(incident("reload-2", dag_id="after"))
    wait_for(
        lambda: [
            b
            for b in webhook.bodies()
            if any(a["labels"]["dag_id"] == "after" for a in b["alerts"])
        ],
        message="the webhook with the new config",
    )
    audit = router.admin.get("/api/v1/audit").json()
    assert audit[0]["action"] == "config.reload" and audit[0]["actor"] == "SIGHUP"


def test_storm_gives_one_notification_per_group_per_interval(
    router_factory: Any, fakes: dict[str, StandIn]
) -> None:
    """1,000 incidents across 200 DAGs of 4 teams: 4 groups, each told once per interval."""
    slack = fakes["slack"]
    config = (
        f"""
route:
  receiver: slack
  group_by: [alertname, team]
  group_wait: 1s
  group_interval: 2s
receivers:
  - name: slack
    slack_configs: [{{api_url: "{slack.url}"}}]
"""
        + FAST_TIMERS
    )
    router = router_factory(config)
    teams = ["data", "ml", "finance", "growth"]
    bodies = [
        incident(f"storm-{dag}-{n}", dag_id=f"dag_{dag:03d}", team=teams[dag % 4])
        for n in range(5)
        for dag in range(200)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(router.post_incident, bodies))
    storm_seconds = time.monotonic() - started
    assert all(answer.json()["status"] == "accepted" for answer in answers)
    groups = router.admin.get("/api/v2/alerts/groups").json()
    assert sorted(group["labels"]["team"] for group in groups) == sorted(teams)

    def largest_notice_per_team() -> dict[str, int]:
        counts: dict[str, int] = {}
        for body in slack.bodies():
            team = body["text"].split("team=")[1]
            firing = int(body["text"].split(":")[1].split("]")[0])
            counts[team] = max(counts.get(team, 0), firing)
        return counts

    wait_for(
        lambda: largest_notice_per_team() == dict.fromkeys(teams, 250),
        timeout=30,
        message="every team's notice to cover its 250 incidents",
    )
    # The first incident of each team was in every notice of its group: its history lists them.
    for dag, team in enumerate(teams):

        def notified(dag: int = dag) -> list[dict]:
            found = router.admin.get(f"/api/v1/incidents/storm-{dag}-0").json()["notifications"]
            return found if all(n["outcome"] == "delivered" for n in found) else []

        created = sorted({n["createdAt"] for n in wait_for(notified, message="recorded")})
        times = [
            datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() for text in created
        ]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= 1.99 for gap in gaps), (team, gaps)
        assert len(times) <= storm_seconds / 2 + 2, (team, len(times), storm_seconds)
    assert len(slack.received) < 40, len(slack.received)
