"""Monitoring notification channels (``google.monitoring.v3.NotificationChannelService``):
descriptors, CRUD with obfuscated secrets and verification, over gRPC."""
