"""Log-based metrics (``google.logging.v2.MetricsServiceV2``): CRUD over gRPC, the metric
definitions and extractors (``model``), and the per-minute points counted from written entries."""
