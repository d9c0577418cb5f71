"""Conversions between filter literals, entry values and comparable forms.

Cloud Logging converts the right-hand side of a comparison to the field's type; these
helpers do that conversion once at compile time, and convert entry values cheaply at
evaluation time. Every helper returns ``None`` when a conversion fails, because a
failed conversion makes the comparison false rather than an error.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

SEVERITY_RANKS: dict[str, int] = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
SEVERITY_NAMES: dict[int, str] = {rank: name for name, rank in SEVERITY_RANKS.items()}


def fold(text: str) -> str:
    """Case-fold for comparison: Cloud Logging compares strings under NFKC_Casefold.

    ASCII text (nearly all log data) takes the cheap ``lower()`` path.
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_SPECIAL_FLOATS = {
    "nan": math.nan,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
}


def parse_number(text: str) -> int | float | None:
    """Parse a decimal number, or NaN/Infinity/-Infinity in any case, as the docs allow."""
    text = text.strip()
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text.lower())


def to_number(value: Any) -> int | float | None:
    """An entry value as a number: JSON numbers, and int64s that REST sends as strings."""
    cls = value.__class__
    if cls is int or cls is float:
        return value
    if cls is str:
        return parse_number(value)
    return None


def parse_bool(text: str) -> bool | None:
    """``true``/``false`` in any letter case."""
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def to_bool(value: Any) -> bool | None:
    """An entry value as a bool (JSON true/false, or the strings "true"/"false")."""
    if value is True or value is False:
        return value
    if value.__class__ is str:
        return parse_bool(value)
    return None


def severity_rank(value: Any) -> int | None:
    """An entry's severity as its rank: REST gives the name, some producers the number."""
    if value.__class__ is str:
        rank = SEVERITY_RANKS.get(value)
        return rank if rank is not None else SEVERITY_RANKS.get(value.strip().upper())
    if value.__class__ is int:
        return value
    return None


def parse_severity(text: str) -> int | None:
    """A filter's severity literal: a name in any case, or a number (``severity>=400``)."""
    rank = SEVERITY_RANKS.get(text.strip().upper())
    if rank is not None:
        return rank
    number = parse_number(text)
    if isinstance(number, int):
        return number
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return None


def scalar_text(value: Any) -> str | None:
    """A scalar's text as JSON would print it; None for objects, lists and null."""
    cls = value.__class__
    if cls is str:
        return value
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if cls is float:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return None


# --- timestamps ----------------------------------------------------------------------
#
# Instants are compared through a canonical UTC key "YYYY-MM-DDTHH:MM:SS.fffffffff":
# fixed width, so string order is time order, and nanosecond precision as in Logging.

_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})\Z"
)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")


def timestamp_key(text: str, *, allow_date: bool = False, strict: bool = True) -> str | None:
    """Canonical UTC key of an RFC 3339 timestamp (``Z``, ``±hh:mm`` or ``±hhmm``), else None.

    ``±hhmm`` is not RFC 3339, but google-cloud-logging's ``list_entries`` writes its default
    24-hour restriction that way (``strftime("%z")``), and Cloud Logging accepts it.

    ``allow_date`` also accepts ``YYYY-MM-DD``, which the docs define as midnight UTC
    when it is the value of a timestamp comparison. ``strict=False`` (for entry values,
    read on every evaluation) does not check that a UTC date exists on the calendar.
    """
    m = _TIMESTAMP_RE.match(text)
    if m is None:
        if allow_date and (d := _DATE_RE.match(text)) is not None:
            try:
                datetime(int(d[1]), int(d[2]), int(d[3]))
            except ValueError:
                return None
            return f"{text}T00:00:00.000000000"
        return None
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    nanos = (fraction or "")[:9].ljust(9, "0")
    if offset in ("Z", "z") and not strict:
        # Entry timestamps are UTC and well-formed: skip calendar validation, the
        # costliest step, since the key of a valid instant is just its text.
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}.{nanos}"
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[-2:]))
        try:
            moment -= sign * shift
        except OverflowError:
            return None
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{nanos}"


def format_timestamp(key: str, zone: tzinfo | None) -> str:
    """RFC 3339 text of a canonical key, in ``zone`` (UTC, written ``Z``, when None)."""
    moment = datetime.strptime(key[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    if zone is not None:
        moment = moment.astimezone(zone)
    fraction = key[20:].rstrip("0")
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if fraction:
        text += "." + fraction
    offset = moment.utcoffset()
    if zone is None or offset == timedelta(0):
        return text + "Z"
    assert offset is not None  # an aware datetime always has one
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --- durations -----------------------------------------------------------------------

_DURATION_RE = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)\Z")
_UNIT_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> int | None:
    """Nanoseconds of a duration such as ``3.2s`` or ``250ms`` (REST sends ``"0.25s"``)."""
    m = _DURATION_RE.match(text.strip())
    if m is None:
        return None
    try:
        nanos = int(Decimal(m[2]) * _UNIT_NANOS[m[3]])
    except InvalidOperation:
        return None
    return -nanos if m[1] == "-" else nanos
