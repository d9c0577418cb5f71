"""Local, wire-compatible emulator of the Google APIs this project uses (decision 7).

One gRPC server and one HTTP server (``server.EmulatorServer``) in one process, started by
``python -m observability.emulator`` (``__main__``), ``composer-obs emulator`` or, for tests
and the demo, ``process.emulator_process``. The folder is cut as Google cuts its APIs: one
package per API resource, each holding its transports, its rules and its store::

    server.py        builds every store and service, adds each gRPC handler and REST router
    common/          shared plumbing: SQLite (sqlite_db), errors and their gRPC/REST mapping
                     (errors, grpc_common, rest_common), clock, call_counter, page_tokens,
                     the Monitoring filter and list languages (boolean_filter,
                     monitoring_filter, listing), Logging's extractors, validation (a refused
                     field in Google's words, user labels), and crud:
                     the store and servicer shape of every CRUD resource
    log_entries/     Cloud Logging entries and logs      (LoggingServiceV2)
    log_metrics/     log-based metrics                    (MetricsServiceV2)
    alert_policies/  alert policies                       (AlertPolicyService)
    channels/        notification channels                (NotificationChannelService)
    time_series/     ListTimeSeries, CreateTimeSeries     (MetricService)
    descriptors/     metric and monitored-resource descriptors: Google's built-ins
                     (catalogue.json) and user-defined ones   (MetricService)
    alerting/        policy evaluation, incidents, notifications (the emulator runs them)
    dashboards/      dashboards                           (DashboardsService)
    composer/        Composer environments (read by the router and the watchdog)

Inside a package the modules have one job each: ``grpc`` decodes a protobuf request, calls
the service and encodes its answer; ``rest`` does the same for Google's REST/JSON mapping;
``service`` holds the API's rules and raises ``common.errors.ApiError``; ``store`` keeps rows
in the package's own SQLite file. Transports know services, services know stores, and no
package reaches into another's private names. The CRUD resources (alert policies, channels,
dashboards; log-based metrics for the servicer) are built on ``common.crud``: a
``ResourceName``, a ``ResourceStore`` of JSON rows and ``crud_handler`` for the five gRPC
methods, so a new one is its messages and its rules.

One request through it, over gRPC: a client's ``WriteLogEntries`` reaches the handler that
``log_entries.grpc.handler`` registered for ``google.logging.v2.LoggingServiceV2``;
``common.grpc_common.unary`` decodes the bytes (an undecodable request is INVALID_ARGUMENT)
and calls ``write``, which checks the size and hands the raw protobuf to
``log_entries.service.LoggingService.write``. The service fills in Google's defaults,
``log_entries.store.LoggingStore.prepare`` validates and serializes each entry (see
``log_entries.convert``), ``insert`` commits them, and the service tells its listeners: the
log-based metrics count the entries (``log_metrics.service``) and the alert evaluator looks
for log-match policies (``alerting.evaluator``). A refusal is an ``ApiError``, which
``unary`` turns into the gRPC status and details Google would send.

And one over REST: ``POST /v1/projects/P/dashboards`` reaches the FastAPI app that
``common.rest_common.build_app`` made from every package's router; ``dashboards.rest`` reads
the JSON body (``common.rest_common.json_body``: size limit, JSON errors as 400) and calls
``dashboards.service.DashboardsService.create``, which checks the name and id,
``dashboards.validate`` checks the dashboard as Google does, and ``dashboards.store`` inserts
it with a fresh etag. An ``ApiError`` becomes Google's JSON error body with the matching
HTTP status, through the exception handlers ``build_app`` installs.
"""
