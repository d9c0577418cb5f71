"""Named ``time_intervals`` for routes' ``mute_time_intervals`` and ``active_time_intervals``.

Alertmanager's semantics and validation (its ``timeinterval`` package, rule for rule): an
interval holds when every field it sets holds (an unset field holds always); a named interval
holds when any of its intervals does. Times are ``HH:MM`` (two-digit hours, ``24:00`` allowed as
an end), start inclusive, end exclusive, and the start must be before the end: an overnight
window is two ranges (``22:00``-``24:00`` and ``00:00``-``06:00``), never ``22:00``-``06:00``.
Weekdays (names only), days of month (negative counts from the month's end; a range may not
start negative and end positive, nor always be empty), months (names or numbers) and years take
``a:b`` ranges that must not end before they start. ``location`` is an IANA zone (UTC default).
A number may be written as a YAML number (``days_of_month: [1, 15]``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_WEEKDAYS = {  # Alertmanager's numbering: sunday = 0
    name.lower(): (index + 1) % 7 for index, name in enumerate(calendar.day_name)
}
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_INTEGER = re.compile(r"[+-]?[0-9]+")  # Go's strconv.Atoi


def _minutes(text: str) -> int:
    if not _CLOCK.fullmatch(text):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class TimeRange(BaseModel):
    """``start_time``-``end_time`` within a day."""

    model_config = ConfigDict(extra="forbid")

    start_time: str = ""
    end_time: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if not self.start_time or not self.end_time:
            raise ValueError("both start and end times must be provided")
        if _minutes(self.start_time) >= _minutes(self.end_time):
            raise ValueError("start time cannot be equal or greater than end time")
        return self

    def contains(self, minute: int) -> bool:
        return _minutes(self.start_time) <= minute < _minutes(self.end_time)


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _member(names: Mapping[str, int], numbers: bool, what: str) -> Callable[[str], int]:
    def member(text: str) -> int:
        if text in names:
            return names[text]
        if numbers:
            try:
                return _integer(text)
            except ValueError:
                if names:
                    raise ValueError(f"{text} is not a valid {what}") from None
                raise
        raise ValueError(f"{text} is not a valid {what}")

    return member


def _range(text: str, member: Callable[[str], int]) -> tuple[int, int]:
    """``a`` or ``a:b``, lower-cased first, as Alertmanager reads every range."""
    text = text.lower()
    if ":" not in text:
        value = member(text)
        return value, value
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"couldn't parse range {text}, invalid format")
    return member(parts[0]), member(parts[1])


def weekday_range(text: str) -> tuple[int, int]:
    first, last = _range(text, _member(_WEEKDAYS, False, "weekday"))
    if first > last:
        raise ValueError("start day cannot be before end day")
    return first, last


def day_of_month_range(text: str) -> tuple[int, int]:
    first, last = _range(text, _member({}, True, "day of the month"))
    for day in (first, last):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if first < 0 < last:
        raise ValueError("end day must be negative if start day is negative")
    # Always empty, whatever the month's length (checked for a 28-day month):
    if (28 + first if first < 0 else first) > (28 + last if last < 0 else last):
        raise ValueError(f"end day {last} is always before start day {first}")
    return first, last


def month_range(text: str) -> tuple[int, int]:
    return _ordered_range(text, _MONTHS, "month")


def year_range(text: str) -> tuple[int, int]:
    return _ordered_range(text, {}, "year")


def _ordered_range(text: str, names: Mapping[str, int], what: str) -> tuple[int, int]:
    """A range of ``what`` (a name or a number) that must not end before it starts."""
    first, last = _range(text, _member(names, True, what))
    if first > last:
        raise ValueError(f"end {what} {last} is before start {what} {first}")
    return first, last


_FIELD_RANGES: dict[str, Callable[[str], tuple[int, int]]] = {
    "weekdays": weekday_range,
    "days_of_month": day_of_month_range,
    "months": month_range,
    "years": year_range,
}
"""How each list field of an interval reads one of its ranges."""


def _texts(values: Any) -> Any:
    """YAML numbers as the text Alertmanager's YAML library hands it (``15`` -> ``"15"``)."""
    if isinstance(values, list):
        return [
            str(value) if isinstance(value, int) and not isinstance(value, bool) else value
            for value in values
        ]
    return values


class TimeInterval(BaseModel):
    """One interval: each field set narrows it."""

    model_config = ConfigDict(extra="forbid")

    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str = "UTC"

    @field_validator(*_FIELD_RANGES, mode="before")
    @classmethod
    def _numbers_as_text(cls, values: Any) -> Any:
        return _texts(values)

    @field_validator(*_FIELD_RANGES)
    @classmethod
    def _ranges(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _checked(values, _FIELD_RANGES[info.field_name or ""])

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value}") from None
        return value

    def contains(self, timestamp: float) -> bool:
        moment = datetime.fromtimestamp(timestamp, _zone(self.location))
        if self.times and not any(
            span.contains(moment.hour * 60 + moment.minute) for span in self.times
        ):
            return False
        if self.days_of_month and not any(
            _day_within(moment, day_of_month_range(text)) for text in self.days_of_month
        ):
            return False
        if self.months and not any(
            _within(moment.month, month_range(text)) for text in self.months
        ):
            return False
        weekday = (moment.weekday() + 1) % 7
        if self.weekdays and not any(
            _within(weekday, weekday_range(text)) for text in self.weekdays
        ):
            return False
        return not self.years or any(_within(moment.year, year_range(text)) for text in self.years)


def _checked(values: list[str], parse: Callable[[str], tuple[int, int]]) -> list[str]:
    for value in values:
        parse(value)
    return values


def _zone(name: str) -> ZoneInfo:
    """Go's ``time.LoadLocation``: empty and ``UTC`` are UTC; ``Local`` is the host's (UTC here,
    as in the router's containers)."""
    return ZoneInfo("UTC" if name in ("", "UTC", "Local") else name)


def _within(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _day_within(moment: datetime, bounds: tuple[int, int]) -> bool:
    """Alertmanager's rule: negative days count back from the month's last day (-1 is the last
    day), a range starting after the month's end never holds, the rest is clamped to the month."""
    last_day = calendar.monthrange(moment.year, moment.month)[1]
    first, last = (day + last_day + 1 if day < 0 else day for day in bounds)
    if first > last_day:
        return False
    first, last = (max(-last_day, min(day, last_day)) for day in (first, last))
    return first <= moment.day <= last


class NamedTimeInterval(BaseModel):
    """An entry of ``time_intervals``: a name and the intervals it stands for."""

    model_config = ConfigDict(extra="forbid")

    name: str
    time_intervals: list[TimeInterval] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise ValueError("missing name in time interval")
        return value


def active(intervals: list[TimeInterval], timestamp: float) -> bool:
    """Whether a named interval (the list of its intervals) holds at ``timestamp``."""
    return any(interval.contains(timestamp) for interval in intervals)
