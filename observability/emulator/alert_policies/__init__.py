"""Monitoring alert policies (``google.monitoring.v3.AlertPolicyService``): CRUD over gRPC,
Google's policy rules (``service``), the list filter and order (``listing``) and the store."""
