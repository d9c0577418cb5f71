"""The times the router accepts, and how it spells them.

Every time a sender gives (Cloud Monitoring's ``started_at``/``ended_at`` in Unix seconds,
Alertmanager's and silences' ``startsAt``/``endsAt`` in RFC 3339) must lie within
``EARLIEST`` .. ``LATEST``: from the Unix epoch to the last instant Go's ``time.UnixNano``
can hold (2262-04-11T23:47:16Z), which bounds what Prometheus, Alertmanager and Cloud
Monitoring can send. Outside it (NaN, infinities, 1e308, year 10000 once in UTC) a time is
refused at ingest with a 422 naming the field: such a value only comes from a broken sender,
and once stored it used to break every later dispatch pass and every read of the API.

``iso`` spells stored times and never raises, whatever a database written by an older router
holds: a time outside the range is shown clamped to it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator

EARLIEST = 0.0
"""1970-01-01T00:00:00Z."""
LATEST = 9223372036.0
"""2262-04-11T23:47:16Z: the last whole second of Go's ``time.UnixNano`` (int64 nanoseconds)."""
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)
"""Go's zero ``time.Time``, how Alertmanager spells "not set" (``0001-01-01T00:00:00Z``)."""


def bounds_message() -> str:
    return f"must be a time between {iso(EARLIEST)} and {iso(LATEST)}"


def check_seconds(value: float) -> float:
    """``value`` (Unix seconds) if within the bounds, else ValueError (NaN included)."""
    if not (math.isfinite(value) and EARLIEST <= value <= LATEST):
        raise ValueError(bounds_message())
    return value


def check_moment(value: datetime) -> datetime:
    """``value`` in UTC if within the bounds (a time without offset is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        seconds = value.timestamp()
    except (OverflowError, ValueError):
        raise ValueError(bounds_message()) from None
    check_seconds(seconds)
    return value.astimezone(timezone.utc)


UnixSeconds = Annotated[float, AfterValidator(check_seconds)]
"""A float field holding a time in Unix seconds, within the bounds."""
Moment = Annotated[datetime, AfterValidator(check_moment)]
"""A datetime field within the bounds, in UTC."""


def optional_moment(value: datetime | None) -> datetime | None:
    """Alertmanager's "not set": None, or Go's zero time (what Prometheus sends for it)."""
    if value is None or value == GO_ZERO_TIME:
        return None
    return check_moment(value)


OptionalMoment = Annotated[datetime | None, AfterValidator(optional_moment)]


def stored_time(value: object, default: float | None) -> float | None:
    """A time read from the database (SQLite keeps whatever a hand edit put in a column):
    Unix seconds, else ``default``. Out-of-range numbers are kept (``iso`` clamps them)."""
    if type(value) is float:  # every row ingest wrote: checked first, it is read per alert
        return value
    if isinstance(value, bool):
        return default
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def iso(timestamp: float | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, or None: the spelling of every time in the APIs.

    Total: a stored time outside the bounds (or not a number at all) is shown clamped to them, so
    that no read of the API and no notice fails on a value a broken sender got stored.
    """
    if timestamp is None:
        return None
    if not isinstance(timestamp, float):
        timestamp = stored_time(timestamp, EARLIEST) or EARLIEST
    if math.isnan(timestamp):
        timestamp = EARLIEST
    moment = datetime.fromtimestamp(min(max(timestamp, EARLIEST), LATEST), tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
