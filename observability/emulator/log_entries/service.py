"""Cloud Logging's entries.write, entries.list, logs.list and logs.delete, independent of the
transport.

The gRPC and REST edges decode their wire format into the protobuf request, call one method
here, and encode the result; every rule about defaults, partial success, paging and limits
lives here once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.cloud.logging_v2.types import WriteLogEntriesPartialErrors
from google.rpc import code_pb2, status_pb2

from observability.emulator.common import page_tokens
from observability.emulator.common.errors import ApiError
from observability.emulator.log_entries.convert import EntryInvalid
from observability.emulator.log_entries.query import compile_query
from observability.emulator.log_entries.store import (
    Cursor,
    LoggingStore,
    PreparedEntry,
    StoredEntry,
    parse_log_name,
    parse_parent,
)
from observability.logfilter import FilterError

_log = logging.getLogger(__name__)

MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
MAX_FILTER_CHARS: Final = 20_000
MAX_RESOURCE_NAMES: Final = 100
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
DEFAULT_LOGS_PAGE_SIZE: Final = 1000

_PartialErrorsPb = WriteLogEntriesPartialErrors.pb()
_ORDERS = {"": False, "timestamp asc": False, "timestamp desc": True}


@dataclass(frozen=True, slots=True)
class EntriesPage:
    """One page of entries.list and the next page token."""

    entries: list[StoredEntry]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class LogsPage:
    """One page of logs.list: URL-encoded log names and the next page token."""

    log_names: list[str]
    next_page_token: str


def _parents(names: Sequence[str]) -> list[str]:
    """The parents to read from; a bucket view reads its parent (one bucket per parent here)."""
    if not names:
        raise ApiError.invalid("resourceNames: at least one parent resource is required")
    if len(names) > MAX_RESOURCE_NAMES:
        raise ApiError.invalid(f"resourceNames: at most {MAX_RESOURCE_NAMES} are allowed")
    parents = []
    for name in names:
        head, _, view = name.partition("/locations/")
        parent = parse_parent(head)
        if parent is None or (view and len(view.split("/")) != 5):
            raise ApiError.invalid(
                f"resourceNames: {name!r} is not projects/[PROJECT_ID] (or organizations/, "
                "folders/, billingAccounts/, or a bucket view of one)"
            )
        parents.append(parent)
    return sorted(set(parents))


def _query_digest(*parts: object) -> str:
    """Ties a page token to its query: the API requires the same parameters on every page."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


class LoggingService:
    """The Logging API over a ``LoggingStore``; raises ``ApiError`` for every refusal."""

    def __init__(self, store: LoggingStore) -> None:
        self.store = store
        self.listeners: list[Callable[[Sequence[PreparedEntry]], None]] = []
        """Called with the entries of each stored write (log-based metrics count them)."""

    def write(self, request: Any) -> None:
        """WriteLogEntries (raw protobuf request; its entries are completed in place).

        Valid entries are stored only if all are valid, or if ``partial_success`` is set;
        ``dry_run`` stores nothing. Any refusal answers INVALID_ARGUMENT naming the first
        bad entry's index and field; with ``partial_success`` the status carries
        ``WriteLogEntriesPartialErrors`` keyed by index, as the API documents.
        """
        if not request.entries:
            # Google's generated system test (test_write_log_entries) writes no entries, an
            # empty resource and no labels, and expects success: nothing is checked or stored.
            return
        self._apply_defaults(request)
        prepared = self.store.prepare(request.entries)
        if not request.dry_run and (request.partial_success or not prepared.errors):
            self.store.insert(prepared)
            self._notify(prepared.entries)
        if not prepared.errors:
            return
        first = min(prepared.errors)
        message = f"entries[{first}]: {prepared.errors[first]}"
        if len(prepared.errors) > 1:
            message += f" (and {len(prepared.errors) - 1} more invalid entries)"
        details = []
        if request.partial_success:
            partial = _PartialErrorsPb()
            for index, error in prepared.errors.items():
                partial.log_entry_errors[index].CopyFrom(
                    status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=error)
                )
            details.append(partial)
        raise ApiError.invalid(message, details)

    def _notify(self, entries: Sequence[PreparedEntry]) -> None:
        """Tell the listeners about stored entries; a listener's failure is logged, not
        answered: the entries are stored, and an error would make the client write them
        again (as duplicates, when it set no insertId)."""
        for listener in self.listeners:
            try:
                listener(entries)
            except Exception:  # noqa: BLE001 - the write itself succeeded
                _log.exception("a listener of written entries failed")

    @staticmethod
    def _apply_defaults(request: Any) -> None:
        """Copy the request's logName, resource and labels into entries that lack them."""
        log_name = request.log_name
        has_resource = request.HasField("resource")
        labels = list(request.labels.items())
        for entry in request.entries:
            if log_name and not entry.log_name:
                entry.log_name = log_name
            if has_resource and not entry.HasField("resource"):
                entry.resource.CopyFrom(request.resource)
            for key, value in labels:
                if key not in entry.labels:
                    entry.labels[key] = value

    def list_entries(self, request: Any) -> EntriesPage:
        """ListLogEntries (raw protobuf request).

        No time range is added when the filter has none: the API documents that an empty
        filter matches all entries. (The client libraries add a 24 h restriction
        themselves, which then reaches this server as part of the filter.)
        """
        parents = _parents(request.resource_names)
        if len(request.filter) > MAX_FILTER_CHARS:
            raise ApiError.invalid(
                f"filter: {len(request.filter)} characters, at most {MAX_FILTER_CHARS} allowed"
            )
        order = " ".join(request.order_by.lower().split())
        if order not in _ORDERS:
            raise ApiError.invalid(
                f'orderBy: must be "timestamp asc" or "timestamp desc", got {request.order_by!r}'
            )
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise ApiError.invalid(
                f"pageSize: must be between 0 and {MAX_PAGE_SIZE}, got {request.page_size}"
            )
        try:
            query = compile_query(request.filter)
        except FilterError as error:
            raise ApiError.invalid(f"filter: {error}") from error
        digest = _query_digest(parents, request.filter, order)
        after: Cursor | None = None
        if request.page_token:
            parts = page_tokens.decode(request.page_token, (str, int, str, int))
            if parts[0] != digest:
                raise ApiError.invalid(
                    "pageToken: belongs to a different query (resourceNames, filter and "
                    "orderBy must stay the same while paging)"
                )
            after = (parts[1], parts[2], parts[3])
        entries, cursor = self.store.list_entries(
            parents,
            query.narrowing,
            query.matches,
            descending=_ORDERS[order],
            page_size=request.page_size or DEFAULT_PAGE_SIZE,
            after=after,
        )
        return EntriesPage(entries, page_tokens.encode(digest, *cursor) if cursor else "")

    def delete_log(self, log_name: str) -> None:
        """DeleteLog: every entry of the log goes; NOT_FOUND when it has none.

        NOT_FOUND for a missing (or already deleted) log is what Google answers: its samples
        retry DeleteLog on NotFound until a just-written log shows up (python-logging
        samples/snippets/snippets_test.py test_delete), and its system tests' tearDown
        swallows NotFound. Log-based metrics keep every point already counted (they never
        backfill, so nothing is recounted either); entries that arrive later with a timestamp
        before the deletion are deleted too, as the API reference says.
        """
        if not log_name:
            raise ApiError.invalid("logName: required, e.g. projects/[PROJECT_ID]/logs/[LOG_ID]")
        try:
            log = parse_log_name(log_name)
        except EntryInvalid as error:
            raise ApiError.invalid(str(error)) from None
        if not self.store.delete_log(log, time.time_ns()):
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Log {log.name} not found")

    def list_logs(self, request: Any) -> LogsPage:
        """ListLogs (raw protobuf request): the logs of a parent that hold entries."""
        parents = _parents([*([request.parent] if request.parent else []), *request.resource_names])
        # The API ignores a non-positive page size; larger ones are capped, not refused.
        page_size = DEFAULT_LOGS_PAGE_SIZE
        if request.page_size > 0:
            page_size = min(request.page_size, MAX_PAGE_SIZE)
        digest = _query_digest(parents)
        after = None
        if request.page_token:
            parts = page_tokens.decode(request.page_token, (str, str))
            if parts[0] != digest:
                raise ApiError.invalid("pageToken: belongs to a different parent")
            after = parts[1]
        names, last = self.store.list_logs(parents, page_size, after)
        return LogsPage(names, page_tokens.encode(digest, last) if last else "")
