"""Hand-built log entries in the Logging REST JSON shape, as Composer/Airflow write them."""

from __future__ import annotations

import copy
from typing import Any

COMPOSER_ENV = {
    "type": "cloud_composer_environment",
    "labels": {
        "project_id": "acme-data",
        "location": "europe-west1",
        "environment_name": "composer-prod",
    },
}

# A structured callback event written by composer-observability through the API.
TASK_FAILED: dict[str, Any] = {
    "logName": "projects/acme-data/logs/composer-observability",
    "resource": COMPOSER_ENV,
    "timestamp": "2026-11-23T10:00:00.123456Z",
    "receiveTimestamp": "2026-11-23T10:00:01.5Z",
    "severity": "ERROR",
    "insertId": "1a2b3c4d5e6f",
    "labels": {
        "workflow": "daily_sales",
        "task-id": "load_orders",
        "try-number": "2",
        "env": "prod",
    },
    "jsonPayload": {
        "event_type": "task_failed",
        "dag_id": "daily_sales",
        "task_id": "load_orders",
        "run_id": "scheduled__2026-11-23T00:00:00+00:00",
        "try_number": 2,
        "max_tries": 3,
        "duration_s": 12.5,
        "is_retry": True,
        "owner": None,
        "tags": ["sales", "Finance"],
        "scores": [8.5, 9, 6],
        "exception": {
            "type": "ConnectionError",
            "message": "Connection refused by warehouse.example.com:5432",
        },
        "third_party": {
            "service": "snowflake",
            "outcome": "error",
            "latency_ms": 1500,
            "endpoints": [{"host": "10.1.2.3"}, {"host": "192.168.0.7"}],
        },
        "my.key": "dotted",
        "started_at": "2026-11-23T09:59:47.5+00:00",
        "count_str": "0042",
        "n": 100,
        "client_ip": "2001:db8::1",
        "quote": 'say "hi"',
        "path": "C:\\temp",
        "city": "Zürich",
        "title": "\ufb01le",  # "file" spelled with the fi ligature
        "multiline": "line1\nline2",
    },
}

# A task log line as Composer's workers ship it: textPayload plus entry labels.
WORKER_LOG: dict[str, Any] = {
    "logName": "projects/acme-data/logs/airflow-worker",
    "resource": COMPOSER_ENV,
    "timestamp": "2026-11-23T10:05:00Z",
    "receiveTimestamp": "2026-11-23T10:05:02Z",
    "severity": "INFO",
    "insertId": "w-000001",
    "labels": {
        "workflow": "daily_sales",
        "task-id": "extract",
        "run-id": "manual__2026-11-23",
        "try-number": "1",
        "map-index": "-1",
        "worker_id": "airflow-worker-7x9k",
    },
    "textPayload": "Task exited with return code 1: ValueError: bad row and column",
    "sourceLocation": {"file": "taskinstance.py", "line": "1234", "function": "_run_raw_task"},
}

# An Admin Activity audit entry for an environment update.
AUDIT_LOG: dict[str, Any] = {
    "logName": "projects/acme-data/logs/cloudaudit.googleapis.com%2Factivity",
    "resource": {
        "type": "cloud_composer_environment",
        "labels": {"project_id": "acme-data", "location": "europe-west1"},
    },
    "timestamp": "2026-11-23T08:30:00Z",
    "severity": "NOTICE",
    "insertId": "audit-42",
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "methodName": (
            "google.cloud.orchestration.airflow.service.v1.Environments.UpdateEnvironment"
        ),
        "authenticationInfo": {"principalEmail": "deployer@acme-data.iam.gserviceaccount.com"},
        "requestMetadata": {"callerIp": "10.20.30.40"},
        "status": {"code": 7, "message": "PERMISSION_DENIED"},
    },
}

# An Airflow webserver request log: httpRequest, trace, and no severity at all.
WEBSERVER_REQUEST: dict[str, Any] = {
    "logName": "projects/acme-data/logs/airflow-webserver",
    "resource": COMPOSER_ENV,
    "timestamp": "2026-11-23T10:10:00.000000001Z",
    "insertId": "web-7",
    "httpRequest": {
        "requestMethod": "GET",
        "requestUrl": "https://composer-prod.example.com/home",
        "status": 502,
        "responseSize": "5120",
        "latency": "0.250s",
        "remoteIp": "203.0.113.9",
        "cacheHit": False,
    },
    "trace": "projects/acme-data/traces/06796866738c859f2f19b7cfb3214824",
    "spanId": "000000000000004a",
}

# As little as an entry can carry: everything else is absent.
BARE: dict[str, Any] = {"logName": "projects/acme-data/logs/bare", "resource": {"type": "global"}}

ENTRIES: dict[str, dict[str, Any]] = {
    "failed": TASK_FAILED,
    "worker": WORKER_LOG,
    "audit": AUDIT_LOG,
    "http": WEBSERVER_REQUEST,
    "bare": BARE,
}


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level keys replaced (None deletes the key)."""
    entry = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry
