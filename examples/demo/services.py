"""Everything the demo runs besides Airflow: the emulator, the router, the receivers' stand-ins
and the payments API stand-in, started together and stopped together (also on Ctrl-C).

The emulator and the router are separate processes, reached only over the wire, exactly as
Cloud Monitoring and a deployed router would be; the stand-ins are local HTTP and SMTP servers
that check payloads as Slack, PagerDuty and a mail server would.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from examples.demo.routing import demo_routing
from examples.payments_service import PaymentsService
from observability.child_process import child_process, wait_until_answering
from observability.emulator.process import emulator_process, free_port, free_port_pair
from observability.gcp import Endpoint
from observability.standins import PagerDutyStandIn, SlackStandIn, SmtpStandIn, smtp_server


@dataclass
class Router:
    """A running ``composer-obs router serve`` and the secrets it was started with."""

    url: str
    ingest_token: str
    admin_token: str
    config_path: Path
    log_path: Path

    @property
    def webhook_url(self) -> str:
        """Where Cloud Monitoring's webhook channel posts (the token rides in the query)."""
        return f"{self.url}/v1/webhooks/cloud-monitoring"

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """The router's history of one incident: its alert and every notification sent."""
        answer = httpx.get(
            f"{self.url}/api/v1/incidents/{incident_id}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return dict(answer.json())


def _ready(router: Router) -> Callable[[subprocess.Popen[bytes]], None]:
    def wait(process: subprocess.Popen[bytes]) -> None:
        name = f"the router (its log: {router.log_path})"
        wait_until_answering(process, f"{router.url}/readyz", name, 60)

    return wait


@contextmanager
def router_process(
    directory: Path, config: dict[str, object], logging_endpoint: Endpoint
) -> Iterator[Router]:
    """Start the router on a free port with fresh secrets and a SQLite database; stop it.

    The router reads the causes of incidents (its enrichment) from ``logging_endpoint``, the
    emulator's Cloud Logging and Composer API, as a deployed router reads Google's."""
    assert logging_endpoint.grpc_target and logging_endpoint.http_url
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "router.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port_pair()
    router = Router(
        url=f"http://127.0.0.1:{port}",
        ingest_token=secrets.token_urlsafe(24),
        admin_token=secrets.token_urlsafe(24),
        config_path=config_path,
        log_path=directory / "router.log",
    )
    env = {
        "COMPOSER_OBS_ROUTER_INGEST_TOKEN": router.ingest_token,
        "COMPOSER_OBS_ROUTER_ADMIN_TOKEN": router.admin_token,
        "COMPOSER_OBS_ROUTER_POLL_INTERVAL": "0.2",
        "COMPOSER_OBS_ROUTER_EXTERNAL_URL": router.url,
        "COMPOSER_OBS_EMULATOR": logging_endpoint.grpc_target,
        "COMPOSER_OBS_EMULATOR_HTTP": logging_endpoint.http_url.removeprefix("http://"),
    }
    command = [sys.executable, "-m", "observability.router", "serve"]
    command += ["--config", str(config_path), "--port", str(port)]
    command += ["--database-url", f"sqlite:///{directory / 'router.db'}"]
    with child_process(command, _ready(router), env=env, log=router.log_path):
        yield router


@dataclass
class Services:
    """What the demo started; ``receivers`` are the stand-ins the router delivers to."""

    endpoint: Endpoint
    router: Router
    slack: SlackStandIn
    pagerduty: PagerDutyStandIn
    mail: SmtpStandIn
    payments: PaymentsService


@contextmanager
def demo_services(home: Path) -> Iterator[Services]:
    """Start every service in ``home`` (a temporary folder); stop them all on exit."""
    with ExitStack() as stack:
        slack = SlackStandIn(name="slack")
        pagerduty = PagerDutyStandIn(name="pagerduty")
        for stand_in in (slack, pagerduty):
            stand_in.start()
            stack.callback(stand_in.stop)
        mail = stack.enter_context(smtp_server(free_port()))
        payments = stack.enter_context(PaymentsService())
        # Alert evaluation only when the demo moves the clock: the watchdog's events carry
        # the times of the facts (a minute or more before they are written), which a
        # background evaluation would already have passed over.
        endpoint = stack.enter_context(
            emulator_process(
                home / "emulator", env={"COMPOSER_OBS_EMULATOR_ALERTING_INTERVAL": "0"}
            )
        )
        router = stack.enter_context(
            router_process(home / "router", demo_routing(slack, pagerduty, mail), endpoint)
        )
        yield Services(endpoint, router, slack, pagerduty, mail, payments)
