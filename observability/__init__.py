"""composer-observability: structured Airflow events, alerting and a local Google API emulator."""

__version__ = "0.1.0"
