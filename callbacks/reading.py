"""Reading attributes off Airflow's objects without ever raising, on Airflow 2.10 and 3.x alike.

A field one Airflow version lacks, or a property that needs a database session or configuration
this process does not have, is null in the event rather than an exception in the callback.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def attribute(obj: Any, name: str, default: Any = None) -> Any:
    """getattr that also survives properties raising (some need a DB session or config);
    ``default`` for None too."""
    try:
        value = getattr(obj, name, default)
    except Exception:  # noqa: BLE001 - a property needing a DB or config is just absent
        return default
    return default if value is None else value


def attributes(obj: Any, names: tuple[str, ...]) -> list[Any]:
    """``attribute(obj, name)`` for each name, in one pass: a callback reads about fifteen
    attributes of the task instance, and one call per attribute was a measurable part of what
    the task waits for (bench/callback_overhead.py). When a property raises, every name is
    read again one by one, so that only that one is None."""
    try:
        return [getattr(obj, name, None) for name in names]
    except Exception:  # noqa: BLE001 - see attribute(); rare, so the slow path is fine
        return [attribute(obj, name) for name in names]


def text(value: Any) -> str | None:
    """Enum members (states, run types) by their value, everything else by str()."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def aware(value: Any) -> datetime | None:
    """A datetime with its time zone (Airflow 2's ORM can hand out naive UTC); None otherwise."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
