"""Cloud Monitoring's Dashboards API v1, independent of the transport, on dashboard JSON.

Both edges hand this service a dashboard as a JSON object (REST: the body as sent; gRPC:
the proto turned into JSON, all a gRPC client can send) and get JSON back. The server sets
``name`` (``projects/P/dashboards/ID``; a client-chosen id is honoured) and ``etag`` (new on
every write). An update carrying an etag that is no longer current is refused with ABORTED
(409); one without an etag overwrites. ``validate_only`` checks without storing. Enum
values the client library's REST transport sends as integers are stored as names.
"""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

import grpc

from observability.emulator.common import page_tokens
from observability.emulator.common.errors import ApiError, json_type_name
from observability.emulator.dashboards.enums import enum_names
from observability.emulator.dashboards.store import DASHBOARDS, DashboardsStore, StoredDashboard
from observability.emulator.dashboards.validate import validate_dashboard
from observability.emulator.descriptors.rules import ProjectLookup, project_lookup

DEFAULT_PAGE_SIZE: Final = 1000
MAX_PAGE_SIZE: Final = 1000
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024

_PROJECT = re.compile(r"projects/([^/]+)")
_NAME = re.compile(r"projects/([^/]+)/dashboards/([^/]+)")
_DASHBOARD_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._~-]{0,127}")


@dataclass(frozen=True, slots=True)
class DashboardsPage:
    """One page of dashboards.list (JSON dashboards) and the next page token."""

    dashboards: list[dict[str, Any]]
    next_page_token: str


def _project(parent: str) -> str:
    match = _PROJECT.fullmatch(parent)
    if match is None:
        raise ApiError.invalid(f"parent: must be projects/[PROJECT_ID_OR_NUMBER], got {parent!r}")
    return match.group(1)


def _split_name(name: str) -> tuple[str, str]:
    match = _NAME.fullmatch(name)
    if match is None:
        raise ApiError.invalid(
            f"name: must be projects/[PROJECT_ID_OR_NUMBER]/dashboards/[DASHBOARD_ID], got {name!r}"
        )
    return match.group(1), match.group(2)


def _text_field(body: dict[str, Any], key: str) -> str:
    value = body.pop(key, "")
    if not isinstance(value, str):
        raise ApiError.invalid(f"{key}: must be a string, got {json_type_name(value)}")
    return value


def render(project: str, ident: str, etag: str, body: dict[str, Any]) -> dict[str, Any]:
    """A dashboard as the API returns it: the stored JSON with ``name`` and ``etag``."""
    out = {"name": f"projects/{project}/dashboards/{ident}", **body}
    if etag:
        out["etag"] = etag
    return out


def _rendered(stored: StoredDashboard) -> dict[str, Any]:
    return render(stored.project, stored.id, stored.etag, stored.body)


def _new_etag() -> str:
    return secrets.token_hex(16)


class DashboardsService:
    """create / get / list / update / delete over a ``DashboardsStore``."""

    def __init__(self, store: DashboardsStore, descriptors: ProjectLookup | None = None) -> None:
        self.store = store
        self.descriptors = descriptors

    def create(
        self,
        parent: str,
        dashboard: dict[str, Any],
        dashboard_id: str = "",
        validate_only: bool = False,
    ) -> dict[str, Any]:
        project = _project(parent)
        body = copy.deepcopy(dashboard)
        name = _text_field(body, "name")
        if _text_field(body, "etag"):
            raise ApiError.invalid("etag: must not be set when creating a dashboard")
        ident = dashboard_id
        if name:
            name_project, name_id = _split_name(name)
            if name_project != project:
                raise ApiError.invalid(f"name: {name!r} is not in the parent {parent!r}")
            if ident and ident != name_id:
                raise ApiError.invalid(
                    f"dashboardId: {ident!r} differs from the id in name {name!r}"
                )
            ident = name_id
        if ident and _DASHBOARD_ID.fullmatch(ident) is None:
            raise ApiError.invalid(
                f"dashboardId: may hold letters, digits, '_', '-', '.' and '~' "
                f"(at most 128), got {ident!r}"
            )
        validate_dashboard(body, project_lookup(self.descriptors, project))
        enum_names(body)
        ident = ident or str(uuid.uuid4())
        if validate_only:
            return render(project, ident, "", body)
        etag = _new_etag()
        if not self.store.insert(project, ident, etag, body):
            raise ApiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Dashboard projects/{project}/dashboards/{ident} already exists",
            )
        return render(project, ident, etag, body)

    def get(self, name: str) -> dict[str, Any]:
        project, ident = _split_name(name)
        stored = self.store.get(project, ident)
        if stored is None:
            raise DASHBOARDS.not_found(name)
        return _rendered(stored)

    def list(self, parent: str, page_size: int = 0, page_token: str = "") -> DashboardsPage:
        project = _project(parent)
        if page_size < 0:
            raise ApiError.invalid(f"pageSize: must not be negative, got {page_size}")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = self._decode_token(project, page_token)
        rows = self.store.after(project, after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        token = page_tokens.encode(project, rows[-1].seq) if more else ""
        return DashboardsPage([_rendered(row) for row in rows], token)

    def update(
        self, dashboard: dict[str, Any], name: str = "", validate_only: bool = False
    ) -> dict[str, Any]:
        """Replace the whole dashboard ``name`` (or the body's own name) with ``dashboard``."""
        body = copy.deepcopy(dashboard)
        body_name = _text_field(body, "name")
        if name and body_name and body_name != name:
            raise ApiError.invalid(f"dashboard.name: {body_name!r} differs from {name!r}")
        name = name or body_name
        if not name:
            raise ApiError.invalid("dashboard.name: required")
        project, ident = _split_name(name)
        etag = _text_field(body, "etag")
        validate_dashboard(body, project_lookup(self.descriptors, project))
        enum_names(body)
        current = self.store.get(project, ident)
        if current is None:
            raise DASHBOARDS.not_found(name)
        if etag and etag != current.etag:
            raise self._stale(name)
        if validate_only:
            return render(project, ident, current.etag, body)
        new_etag = _new_etag()
        if not self.store.replace(project, ident, new_etag, body, etag or None):
            if self.store.get(project, ident) is None:
                raise DASHBOARDS.not_found(name)
            raise self._stale(name)
        return render(project, ident, new_etag, body)

    def delete(self, name: str) -> None:
        project, ident = _split_name(name)
        if not self.store.delete(project, ident):
            raise DASHBOARDS.not_found(name)

    @staticmethod
    def _stale(name: str) -> ApiError:
        return ApiError(
            grpc.StatusCode.ABORTED,
            f"etag: the dashboard {name} was modified since it was read "
            "(etag mismatch); read it again and retry",
        )

    @staticmethod
    def _decode_token(project: str, token: str) -> int:
        if not token:
            return 0
        token_project, seq = page_tokens.decode(token, (str, int))
        if token_project != project:
            raise ApiError.invalid(f"pageToken: not a page token of projects/{project}")
        seq_number: int = seq
        return seq_number
