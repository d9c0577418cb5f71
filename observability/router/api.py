"""Read and admin APIs, in Alertmanager's v2 shapes where Alertmanager has one.

``/api/v2/alerts``, ``/api/v2/alerts/groups``, ``/api/v2/silences``, ``/api/v2/silence/{id}``
and ``/api/v2/status`` answer as Alertmanager does, so ``amtool`` habits and dashboards carry
over; ``/api/v1/incidents/{id}``, ``/api/v1/dead-letters``, ``/api/v1/rejected-requests`` and
``/api/v1/audit`` are this router's own. Everything here needs the admin bearer token.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import Connection, or_, select

from observability.router.alert import Alert, stored_labels
from observability.router.alert_store import alert_from_row
from observability.router.auth import AuthError
from observability.router.dispatcher import Muting, current_muting
from observability.router.history import (
    audit_entries,
    dead_letter_list,
    incident_history,
    record_audit,
    rejected_request_list,
)
from observability.router.matcher import MatcherError, matches_all, parse_matchers
from observability.router.responses import RequestRefused, read_body, validation_message
from observability.router.runtime import RouterRuntime
from observability.router.silence import (
    PostableSilence,
    SilenceNotFound,
    expire_silence,
    get_silence,
    list_silences,
    save_silence,
)
from observability.router.store import alerts, group_alerts, groups
from observability.router.timestamps import iso


def runtime_of(request: Request) -> RouterRuntime:
    runtime: RouterRuntime = request.app.state.runtime
    return runtime


def admin(request: Request) -> RouterRuntime:
    """Dependency: the runtime, once the caller has shown the admin token."""
    runtime = runtime_of(request)
    try:
        runtime.auth.check_admin(request)
    except AuthError as exc:
        runtime.metrics.requests_invalid.labels("unauthorized").inc()
        raise RequestRefused(
            401, str(exc), "unauthorized", {"WWW-Authenticate": exc.challenge}
        ) from None
    return runtime


async def settled(runtime: RouterRuntime = Depends(admin)) -> RouterRuntime:
    """Dependency of the reads of alerts, groups and incidents: ``admin``, once the ingest
    requests acknowledged before this one are in the tables (see ``RouterRuntime.settled``)."""
    await runtime.settled()
    return runtime


router = APIRouter()

ListLimit = Annotated[int, Query(ge=1, le=1000)]
"""How many rows an admin listing (dead letters, rejected requests, audit) answers at most."""

Result = TypeVar("Result")


async def _read(runtime: RouterRuntime, query: Callable[[Connection], Result]) -> Result:
    """``query`` in a read transaction on a worker thread: database calls block, and the event
    loop must keep answering ingest while an admin reads history."""

    def run() -> Result:
        with runtime.store.read() as connection:
            return query(connection)

    return await asyncio.to_thread(run)


def _gettable(alert: Alert, receivers: list[str], muting: Muting, now: float) -> dict[str, Any]:
    inhibited_by = muting.inhibitor.inhibited_by(alert.labels, alert.fingerprint)
    silenced_by = muting.silenced_by(alert, now)
    state = "suppressed" if inhibited_by or silenced_by else "active"
    if not receivers:
        state = "unprocessed"
    body = alert.to_api(now)
    del body["status"]
    return {
        **body,
        "updatedAt": iso(alert.updated_at),
        "receivers": [{"name": name} for name in sorted(set(receivers))],
        "status": {
            "state": state,
            "silencedBy": silenced_by,
            "inhibitedBy": [inhibited_by] if inhibited_by else [],
            "mutedBy": [],
        },
    }


def _filters(texts: list[str]) -> list:
    try:
        return [matcher for text in texts for matcher in parse_matchers(text)]
    except MatcherError as exc:
        raise RequestRefused(400, f"filter: {exc}", "invalid") from None


def _firing_alerts(connection: Connection, now: float) -> list[Alert]:
    query = select(alerts).where(or_(alerts.c.ends_at.is_(None), alerts.c.ends_at > now))
    return [alert_from_row(row) for row in connection.execute(query.order_by(alerts.c.starts_at))]


def _memberships(connection: Connection) -> dict[str, list[tuple[str, str]]]:
    """fingerprint -> [(group id, receiver)]."""
    found: dict[str, list[tuple[str, str]]] = {}
    query = select(group_alerts.c.fingerprint, groups.c.id, groups.c.receiver).join(
        groups, groups.c.id == group_alerts.c.group_id
    )
    for row in connection.execute(query):
        found.setdefault(row.fingerprint, []).append((row.id, row.receiver))
    return found


def _wanted(item: dict[str, Any], active: bool, silenced: bool, inhibited: bool) -> bool:
    status = item["status"]
    if status["silencedBy"]:
        return silenced
    if status["inhibitedBy"]:
        return inhibited
    return active


@router.get("/api/v2/alerts")
async def get_alerts(
    runtime: RouterRuntime = Depends(settled),
    filter: list[str] = Query(default=[]),
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
) -> list[dict[str, Any]]:
    matchers = _filters(filter)

    def load() -> list[dict[str, Any]]:
        now = runtime.clock.now()
        with runtime.store.read() as connection:
            muting = current_muting(connection, runtime.config, now)
            members = _memberships(connection)
            firing = _firing_alerts(connection, now)
        return [
            item
            for alert in firing
            if matches_all(matchers, alert.labels)
            for item in [
                _gettable(alert, [r for _, r in members.get(alert.fingerprint, [])], muting, now)
            ]
            if _wanted(item, active, silenced, inhibited)
        ]

    return await asyncio.to_thread(load)


@router.get("/api/v2/alerts/groups")
async def get_groups(runtime: RouterRuntime = Depends(settled)) -> list[dict[str, Any]]:
    def load() -> list[dict[str, Any]]:
        now = runtime.clock.now()
        with runtime.store.read() as connection:
            muting = current_muting(connection, runtime.config, now)
            rows = connection.execute(select(groups).order_by(groups.c.created_at)).all()
            members = _memberships(connection)
            every = {
                row.fingerprint: alert_from_row(row) for row in connection.execute(select(alerts))
            }
        by_group: dict[str, list[Alert]] = {}
        for fingerprint, owners in members.items():
            for gid, _ in owners:
                if fingerprint in every:
                    by_group.setdefault(gid, []).append(every[fingerprint])
        return [
            {
                "labels": stored_labels(row.labels),
                "receiver": {"name": row.receiver},
                "groupKey": row.group_key,
                "nextFlushAt": iso(row.next_flush_at),
                "alerts": [
                    _gettable(alert, [row.receiver], muting, now)
                    for alert in by_group.get(row.id, [])
                ],
            }
            for row in rows
        ]

    return await asyncio.to_thread(load)


@router.get("/api/v2/silences")
async def get_silences(
    runtime: RouterRuntime = Depends(admin),
    filter: list[str] = Query(default=[]),
) -> list[dict[str, Any]]:
    matchers = _filters(filter)

    def load() -> list[dict[str, Any]]:
        now = runtime.clock.now()
        with runtime.store.read() as connection:
            found = list_silences(connection)
        wanted = {(m.name, m.type, m.value) for m in matchers}
        return [
            silence.to_api(now)
            for silence in found
            if wanted <= {(m.name, m.type, m.value) for m in silence.matchers}
        ]

    return await asyncio.to_thread(load)


@router.post("/api/v2/silences")
async def post_silence(request: Request, runtime: RouterRuntime = Depends(admin)) -> dict[str, str]:
    body = await read_body(request, runtime.settings.max_body_bytes)
    try:
        silence = PostableSilence.model_validate_json(body)
    except ValidationError as exc:
        status, message, reason = validation_message(exc)
        raise RequestRefused(status, message, reason) from None

    def save() -> str:
        now = runtime.clock.now()
        with runtime.store.write() as connection:
            silence_id = save_silence(connection, silence, now)
            record_audit(
                connection,
                now,
                silence.createdBy,
                "silence.save",
                silence_id,
                {
                    "comment": silence.comment,
                    "matchers": [m.model_dump() for m in silence.matchers],
                    "endsAt": silence.endsAt.isoformat(),
                },
            )
        return silence_id

    try:
        silence_id = await asyncio.to_thread(save)
    except SilenceNotFound as exc:
        raise RequestRefused(404, str(exc), "not_found") from None
    return {"silenceID": silence_id}


@router.get("/api/v2/silence/{silence_id}")
async def get_one_silence(silence_id: str, runtime: RouterRuntime = Depends(admin)) -> Any:
    def load(connection: Connection) -> dict[str, Any]:
        return get_silence(connection, silence_id).to_api(runtime.clock.now())

    try:
        return await _read(runtime, load)
    except SilenceNotFound as exc:
        raise RequestRefused(404, str(exc), "not_found") from None


@router.delete("/api/v2/silence/{silence_id}")
async def delete_silence(
    silence_id: str, request: Request, runtime: RouterRuntime = Depends(admin)
) -> dict[str, Any]:
    actor = request.headers.get("x-actor", "api")

    def expire() -> dict[str, Any]:
        now = runtime.clock.now()
        with runtime.store.write() as connection:
            silence = expire_silence(connection, silence_id, now)
            record_audit(connection, now, actor, "silence.expire", silence_id, {})
        return silence.to_api(now)

    try:
        return await asyncio.to_thread(expire)
    except SilenceNotFound as exc:
        raise RequestRefused(404, str(exc), "not_found") from None


@router.get("/api/v1/incidents/{incident_id}")
async def get_incident(incident_id: str, runtime: RouterRuntime = Depends(settled)) -> Any:
    found = await _read(runtime, lambda connection: incident_history(connection, incident_id))
    if found is None:
        raise RequestRefused(404, f"no incident {incident_id}", "not_found")
    return found


@router.get("/api/v1/dead-letters")
async def get_dead_letters(runtime: RouterRuntime = Depends(admin), limit: ListLimit = 100) -> Any:
    return await _read(runtime, lambda connection: dead_letter_list(connection, limit))


@router.get("/api/v1/rejected-requests")
async def get_rejected_requests(
    runtime: RouterRuntime = Depends(admin), limit: ListLimit = 100
) -> Any:
    return await _read(runtime, lambda connection: rejected_request_list(connection, limit))


@router.get("/api/v1/audit")
async def get_audit(runtime: RouterRuntime = Depends(admin), limit: ListLimit = 100) -> Any:
    return await _read(runtime, lambda connection: audit_entries(connection, limit))


@router.get("/api/v2/status")
async def get_status(runtime: RouterRuntime = Depends(admin)) -> dict[str, Any]:
    config = runtime.config
    return {
        "cluster": {"status": "shared-database" if runtime.store.shared else "disabled"},
        "config": {"source": config.source, "digest": config.digest},
        "database": runtime.store.dialect,
        "worker": {
            "pid": os.getpid(),
            "role": runtime.role.value,
            "dispatcher": runtime.dispatching,
        },
        "uptime": iso(runtime.started_at),
        "uptimeSeconds": round(time.time() - runtime.started_at, 3),
        "receivers": sorted(config.receivers),
    }


@router.post("/-/reload")
async def reload(request: Request, runtime: RouterRuntime = Depends(admin)) -> dict[str, Any]:
    actor = request.headers.get("x-actor", "api")
    result = await asyncio.to_thread(runtime.reload, actor)
    if runtime.reload_peers is not None:
        runtime.reload_peers()  # the other workers load the same file too
    if not result.ok:
        raise RequestRefused(
            400, f"reload failed, running configuration kept: {result.message}", "bad_config"
        )
    return {
        "status": "reloaded" if result.changed else "unchanged",
        "digest": runtime.config.digest,
    }
