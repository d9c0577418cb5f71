"""Cloud Monitoring dashboards (``google.monitoring.dashboard.v1.DashboardsService``): CRUD with
etags over gRPC and REST, Google's dashboard validation (``validate``), enum names (``enums``)."""
