"""The alert router: Cloud Monitoring webhooks and Alertmanager alerts in, notifications out.

The path of one alert through this package, one module per stage:

``ingest`` (HTTP, auth, size limit) -> ``incident`` (Cloud Monitoring payload -> ``alert``)
-> ``alert_store`` (durable, group-committed, before the 2xx) -> ``dispatcher`` (``route`` tree
of ``matcher``\\ s -> ``group`` timers -> ``inhibit`` / ``timeinterval`` / ``silence`` -> dedup
against the ``notification_log``) -> ``outbox`` (claimed, retried, dead-lettered) ->
``receivers`` (Slack, PagerDuty, Google Chat, email, webhook), every step in ``store``.
"""
