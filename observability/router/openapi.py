"""The router's OpenAPI document, served to admins at ``GET /api/v1/openapi.json``.

FastAPI describes the admin API from its routes, but not what the router reads itself for
speed and size limits: the two ingest endpoints are plain ASGI apps, and ``POST
/api/v2/silences`` reads its bounded body before validating it. Their request bodies are
added here from the very models that validate them, so a client generator, or a fuzzer such
as schemathesis, sees every path and the shape it is checked against.

The document is behind the admin token like the rest of the admin API: it lists no secret,
but an unauthenticated caller has no use for a map of the admin endpoints.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from observability.router.alert import PostableAlert
from observability.router.incident import WebhookPayload
from observability.router.silence import PostableSilence

OPENAPI_PATH = "/api/v1/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"

INGEST_SECURITY: list[dict[str, list[str]]] = [
    {"ingestToken": []},
    {"ingestBasic": []},
    {"ingestBearer": []},
]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminBearer": []}]
SECURITY_SCHEMES: dict[str, Any] = {
    "ingestToken": {"type": "apiKey", "in": "query", "name": "auth_token"},
    "ingestBasic": {"type": "http", "scheme": "basic"},
    "ingestBearer": {"type": "http", "scheme": "bearer", "description": "the ingest token"},
    "adminBearer": {"type": "http", "scheme": "bearer", "description": "the admin token"},
}
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["error", "status"],
}
_REFUSALS = {
    "400": "malformed JSON",
    "401": "missing or wrong credentials",
    "413": "body over the size limit",
    "422": "a field is invalid (named in the error)",
}
INGEST_ANSWER = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["accepted", "stored", "duplicate", "stale"]},
        "incident_id": {"type": "string"},
        "state": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The whole document (built once per app, as FastAPI's own)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=(
            "Cloud Monitoring webhooks and Alertmanager's API in, notifications out. Ingest "
            "takes the ingest token; everything else the admin bearer token."
        ),
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation["security"] = ADMIN_SECURITY
    paths = document.setdefault("paths", {})
    paths["/v1/webhooks/cloud-monitoring"] = {
        "post": _ingest_operation(
            "Cloud Monitoring webhook (schema 1.2): one incident event",
            _schema(WebhookPayload, schemas),
            {"content": {"application/json": {"schema": INGEST_ANSWER}}},
        )
    }
    paths.setdefault("/api/v2/alerts", {})["post"] = _ingest_operation(
        "Alertmanager's postAlerts: a list of PostableAlert",
        _schema(list[PostableAlert], schemas),
        {},
    )
    silences = paths.get("/api/v2/silences", {}).get("post")
    if silences is not None:
        silences["requestBody"] = _json_body(_schema(PostableSilence, schemas))
        silences["responses"].update(_refusals())
    app.openapi_schema = document
    return document


def _schema(model: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of ``model``, its definitions moved into the document's components."""
    schema = TypeAdapter(model).json_schema(ref_template=REF_TEMPLATE, mode="validation")
    schemas.update(schema.pop("$defs", {}))
    return schema


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _refusals() -> dict[str, Any]:
    return {
        status: {"description": why, "content": {"application/json": {"schema": ERROR}}}
        for status, why in _REFUSALS.items()
    }


def _ingest_operation(summary: str, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    unavailable = {
        "description": "the alert store is unavailable: retry after Retry-After seconds",
        "content": {"application/json": {"schema": ERROR}},
    }
    return {
        "summary": summary,
        "security": INGEST_SECURITY,
        "requestBody": _json_body(body),
        "responses": {
            "200": {"description": "durably accepted", **answer},
            **_refusals(),
            "503": unavailable,
        },
    }
