"""The demo's routing: who hears about what, written as a user would write ``router.yaml``.

Failures of the analytics team's DAGs page its on-call in PagerDuty (one page per incident,
resolved when the incident closes); everything posts to the team's Slack channel; problems
with a third-party provider are also emailed to the owners of that integration. Timings are
seconds, not minutes, so that the story fits in a demo.
"""

from __future__ import annotations

from observability.standins import PagerDutyStandIn, SlackStandIn, SmtpStandIn

ONCALL = "analytics-oncall"
"""The PagerDuty receiver: the analytics team's on-call."""
TEAM_CHANNEL = "analytics-slack"
"""The Slack receiver: the team's #analytics-alerts channel."""
OWNERS = "payments-owners"
"""The email receiver: the owners of the payments integration."""


def demo_routing(
    slack: SlackStandIn, pagerduty: PagerDutyStandIn, mail: SmtpStandIn
) -> dict[str, object]:
    """The router configuration, pointing at the stand-ins' addresses."""
    return {
        "global": {
            "resolve_timeout": "5m",
            "slack_api_url": slack.url,
            "pagerduty_url": pagerduty.url,
            "smtp_smarthost": f"{mail.host}:{mail.port}",
            "smtp_from": "composer-alerts@example.com",
        },
        # The cause read back from Cloud Logging before each notice: the demo's laptop also
        # runs Airflow, the emulator and the router, so it gets more than the default 2 s.
        "enrichment": {"budget": "10s"},
        "route": {
            "receiver": TEAM_CHANNEL,
            "group_by": ["alertname", "dag_id", "service"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": ['team="analytics"', 'severity=~"critical|error"'],
                    "receiver": ONCALL,
                    "continue": True,
                },
                {
                    "matchers": ['alertname=~"Third-party.*"'],
                    "receiver": OWNERS,
                    "continue": True,
                },
                {"receiver": TEAM_CHANNEL},
            ],
        },
        "receivers": [
            {
                "name": TEAM_CHANNEL,
                "slack_configs": [{"channel": "#analytics-alerts", "send_resolved": True}],
            },
            {
                "name": ONCALL,
                "pagerduty_configs": [{"routing_key": pagerduty.routing_key, "dedup": "incident"}],
            },
            {
                "name": OWNERS,
                "email_configs": [
                    {
                        "to": "payments-owners@example.com",
                        "require_tls": False,
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }
