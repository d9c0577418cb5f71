"""Events saved as redacted fields, for a process that ends before its writer is ready.

Turning an event into a Cloud Logging entry needs the settings (the project, the log) and the
schema, whose imports cost a writer about 0.2 s of CPU: on a worker where a dozen task
processes start at once, that is many seconds, longer than a short task lives plus its 2 s
flush. Rather than hold the end of the process until they load, the flush saves such events
as their fields: exceptions formatted, strings cut to the entry size limit and redacted, an
``event_id`` fixed (it becomes the insertId, so a replay stores the event once), and every
value made JSON. This module imports nothing heavier than the standard library, the
exception formatter and the redaction rules. A replay converts the fields to an entry the
usual way (``observability.emit.entry``).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from observability.emit.truncate import cap_text
from observability.exceptions import exception_info
from observability.redact import redact_text

if TYPE_CHECKING:
    from observability.events import Event

STRING_CAP = 256 * 1024
"""No string can be longer in an entry; cutting first keeps redaction's cost bounded."""
MAX_DEPTH = 32
"""Deeper values are kept as their text: Cloud Logging refuses deeper payloads anyway, and
the end of a process must not fail on a recursion limit."""


def raw_fields(item: Event | Mapping[str, Any]) -> dict[str, Any]:
    """The event's fields as JSON values, redacted, with an event_id."""
    dump = getattr(item, "model_dump", None)
    fields = dict(dump(mode="json")) if dump is not None else dict(item)
    if fields.get("exception") is not None:
        fields["exception"] = exception_info(fields["exception"])
    fields.setdefault("event_id", uuid.uuid4().hex)
    return {str(key): _json_value(value, 1) for key, value in fields.items()}


def _json_value(node: Any, depth: int) -> Any:
    if isinstance(node, str):
        return redact_text(cap_text(node, STRING_CAP) if len(node) > STRING_CAP else node)
    if node is None or isinstance(node, (bool, int)):
        return node
    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, (datetime, date)):
        return node.isoformat()
    if depth < MAX_DEPTH and isinstance(node, Mapping):
        return {str(key): _json_value(value, depth + 1) for key, value in node.items()}
    if depth < MAX_DEPTH and isinstance(node, (list, tuple, set, frozenset)):
        return [_json_value(value, depth + 1) for value in node]
    return _json_value(_text(node), depth)


def _text(node: Any) -> str:
    """Enums by value, the rest as text; a value whose ``str`` fails, by its type."""
    try:
        return str(getattr(node, "value", node))
    except Exception:  # noqa: BLE001 - the event must still be saved
        return f"<unprintable {type(node).__name__}>"


def fallback_spool_dir() -> Path:
    """Where such events go: ``COMPOSER_OBS_SPOOL_DIR`` or the default folder, found without
    loading the settings (the YAML file is not read on this path; replays look here too)."""
    from observability.emit.spool import default_spool_dir

    configured = os.environ.get("COMPOSER_OBS_SPOOL_DIR", "").strip()
    return Path(configured).expanduser() if configured else default_spool_dir()
