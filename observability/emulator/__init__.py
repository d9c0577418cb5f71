"""Local, wire-compatible emulator of the Google APIs this project uses (decision 7).

One gRPC server and one HTTP server (``server.EmulatorServer``) in one process. Each API is
a small stack of modules, so a new one is added beside the others without touching them:

- ``<api>_store``    SQLite persistence and the API's validation rules
- ``<api>_service``  the API's behaviour, independent of the transport; raises ``ApiError``
- ``<api>_grpc``     a generic gRPC handler that decodes, calls the service, encodes
- ``<api>_rest``     a FastAPI router doing the same for Google's REST/JSON mapping

``errors``, ``grpc_common`` and ``rest_common`` hold what every API shares. Cloud Logging is
``logging_*`` (plus ``logging_convert`` for LogEntry protobuf <-> JSON and ``logging_query``
for the filter's SQL narrowing). Run it with ``python -m observability.emulator``.
"""
