"""Cloud Logging entries (``google.logging.v2.LoggingServiceV2``): entries.write, entries.list,
logs.list over gRPC (``grpc``) and REST (``rest``); ``service`` holds the rules, ``store`` the
SQLite rows, ``convert`` LogEntry protobuf <-> JSON and ``query`` the filter's SQL narrowing."""
