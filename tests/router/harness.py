"""The router as the tests run it: a real ``python -m observability.router serve`` process.

A separate process, so the tests talk to it only over HTTP (as Cloud Monitoring does) and
can ``kill -9`` it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from examples.waiting import wait_for
from observability.emulator.process import free_port_pair

INGEST_TOKEN = "ingest-0123456789abcdef-token"
ADMIN_TOKEN = "admin-fedcba9876543210-token"
BASIC_USER = "monitoring"
BASIC_PASSWORD = "basic-0123456789abcdef-pass"

FAST_TIMERS = """
delivery:
  timeout: 2s
  initial_backoff: 200ms
  max_backoff: 1s
  lease: 5s
"""


def webhook_only_config(url: str) -> str:
    """Everything to one Alertmanager webhook consumer, with the default timers."""
    return f"""
route:
  receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
"""


def fuzzed_router_config(url: str, dag_prefix: str) -> str:
    """Every alert to a webhook consumer at ``url``, through a regex route (on ``dag_id``s
    starting with ``dag_prefix``) and an inhibit rule: the router the fuzzing tests attack,
    so that whatever they get stored meets matchers, inhibition and templates."""
    return f"""
route:
  receiver: hook
  group_by: [alertname, dag_id]
  group_wait: 200ms
  group_interval: 1s
  routes:
    - matchers: ['dag_id=~"{dag_prefix}.*"']
      receiver: hook
inhibit_rules:
  - source_matchers: ['severity=~"crit.*"']
    target_matchers: ['severity="warning"']
    equal: [dag_id]
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
delivery:
  timeout: 2s
  initial_backoff: 200ms
  max_backoff: 1s
"""


def incident(
    incident_id: str,
    state: str = "open",
    policy: str = "Airflow task failed",
    severity: str = "ERROR",
    started_at: float | None = None,
    **labels: str,
) -> dict[str, Any]:
    """A schema 1.2 webhook body, as Cloud Monitoring sends it."""
    now = time.time()
    metric_labels = {name: value for name, value in labels.items() if name != "environment_name"}
    return {
        "version": "1.2",
        "incident": {
            "incident_id": incident_id,
            "scoping_project_id": "acme-data",
            "scoping_project_number": 12345,
            "url": f"https://console.cloud.google.com/monitoring/alerting/incidents/{incident_id}",
            "severity": severity,
            "started_at": int(started_at or now),
            "ended_at": int(now) if state == "closed" else None,
            "state": state,
            "summary": f"{policy} for {labels.get('dag_id', 'a DAG')}",
            "apigee_url": "unknown field kept",
            "resource": {
                "type": "cloud_composer_environment",
                "labels": {
                    "project_id": "acme-data",
                    "location": "europe-west1",
                    "environment_name": labels.get("environment_name", "prod"),
                },
            },
            "metric": {
                "type": "logging.googleapis.com/user/composer_obs/task_failures",
                "displayName": "task failures",
                "labels": metric_labels,
            },
            "metadata": {"system_labels": {}, "user_labels": {}},
            "policy_name": policy,
            "policy_user_labels": {"managed-by": "composer-observability"},
            "condition_name": "failures > 0",
            "condition": {
                "name": "projects/acme-data/alertPolicies/1/conditions/2",
                "displayName": "failures > 0",
            },
            "threshold_value": "0",
            "observed_value": "1",
            "documentation": {
                "content": "Check the task log.",
                "mime_type": "text/markdown",
                "subject": policy,
            },
        },
    }


class RouterProcess:
    def __init__(
        self,
        directory: Path,
        config: str,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "router.yaml"
        self.config_path.write_text(config)
        self.database_url = database_url or f"sqlite:///{directory / 'router.db'}"
        self.port = free_port_pair()
        self.log_path = directory / "router.log"
        self.extra_env = extra_env or {}
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.ingest = httpx.Client(base_url=self.url, timeout=10)
        self.admin = httpx.Client(
            base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RouterProcess:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "COMPOSER_OBS_ROUTER_INGEST_TOKEN": INGEST_TOKEN,
            "COMPOSER_OBS_ROUTER_INGEST_USERNAME": BASIC_USER,
            "COMPOSER_OBS_ROUTER_INGEST_PASSWORD": BASIC_PASSWORD,
            "COMPOSER_OBS_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
            "COMPOSER_OBS_ROUTER_POLL_INTERVAL": "0.2",
            "COMPOSER_OBS_ROUTER_EXTERNAL_URL": "https://router.example.com",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "observability.router",
                "serve",
                "--config",
                str(self.config_path),
                "--database-url",
                self.database_url,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: kill9 reaches every worker
        )
        log.close()

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"router exited: {self.log()}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(ready, timeout=40, message="router ready")
        except BaseException:
            self.kill9()  # a router that never got ready must not outlive the test
            raise
        return self

    def post_incident(self, body: dict[str, Any]) -> httpx.Response:
        return self.ingest.post(
            "/v1/webhooks/cloud-monitoring", json=body, params={"auth_token": INGEST_TOKEN}
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def kill9(self) -> None:
        """``kill -9`` the router's whole process group (the supervisor and its workers)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def statuses(self, attempts: int = 400) -> dict[int, dict[str, Any]]:
        """``/api/v2/status`` of each worker, by pid: asked on new connections (the kernel
        hands each to some worker) until every worker answered, or ``attempts`` ran out."""
        found: dict[int, dict[str, Any]] = {}
        for _ in range(attempts):
            status = httpx.get(
                f"{self.url}/api/v2/status",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=10,
            ).json()
            found[status["worker"]["pid"]] = status
            if len(found) == self.workers:
                break
        return found

    def close(self) -> None:
        self.stop()
        self.ingest.close()
        self.admin.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
