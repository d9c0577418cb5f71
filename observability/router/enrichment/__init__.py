"""Enrichment: the page says what broke.

Between grouping and delivery, each alert of a notice that comes from a Cloud Monitoring
incident on a log-based metric (or a log-match condition) gets a ``cause``: the log entries
behind it, read back from Cloud Logging with the metric's own filter and labels, summarised
(failed tasks, the error, whether it is new, third-party calls, the task log's last lines,
links into Airflow and Logs Explorer). Looked up once per incident within a time budget,
cached in the router's database; a notice never waits past the budget for it.

Modules: ``settings`` (the ``enrichment:`` section), ``query`` (log filters and links),
``cause`` (what a cause holds), ``sources`` (the Google APIs it reads), ``lookup`` (one
incident's cause), ``cache`` (the causes table), ``enricher`` (budget, single flight, the
notice's causes).
"""
