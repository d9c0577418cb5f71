"""The demo's routing: who hears about what, written as a user would write ``router.yaml``.

Failures of the analytics team's DAGs page its on-call in PagerDuty (one page per incident,
resolved when the incident closes); everything posts to the team's Slack channel; problems
with a third-party provider are also emailed to the owners of that integration. Timings are
seconds, not minutes, so that the story fits in a demo.
"""

from __future__ import annotations

from observability.standins import PagerDutyStandIn, SlackStandIn, SmtpStandIn


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
        "route": {
            "receiver": "analytics-slack",
            "group_by": ["alertname", "dag_id", "service"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": ['team="analytics"', 'severity=~"critical|error"'],
                    "receiver": "analytics-oncall",
                    "continue": True,
                },
                {
                    "matchers": ['alertname=~"Third-party.*"'],
                    "receiver": "payments-owners",
                    "continue": True,
                },
                {"receiver": "analytics-slack"},
            ],
        },
        "receivers": [
            {
                "name": "analytics-slack",
                "slack_configs": [{"channel": "#analytics-alerts", "send_resolved": True}],
            },
            {
                "name": "analytics-oncall",
                "pagerduty_configs": [{"routing_key": pagerduty.routing_key, "dedup": "incident"}],
            },
            {
                "name": "payments-owners",
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
