"""Named ``time_intervals`` for routes' ``mute_time_intervals`` and ``active_time_intervals``.

Alertmanager's semantics: an interval holds when every field it sets holds (an unset field
holds always); a named interval holds when any of its intervals does. Times are
``HH:MM``, start inclusive, end exclusive; weekdays, days of month (negative counts from the
month's end), months and years take ``a:b`` ranges; ``location`` is an IANA zone (UTC default).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_WEEKDAYS = {  # Alertmanager's numbering: sunday = 0
    name.lower(): (index + 1) % 7 for index, name in enumerate(calendar.day_name)
}
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}


class TimeRange(BaseModel):
    """``start_time``-``end_time`` within a day, in minutes after midnight."""

    model_config = ConfigDict(extra="forbid")

    start_time: str
    end_time: str

    @field_validator("start_time", "end_time")
    @classmethod
    def _clock(cls, value: str) -> str:
        _minutes(value)
        return value

    def contains(self, minute: int) -> bool:
        return _minutes(self.start_time) <= minute < _minutes(self.end_time)


def _minutes(text: str) -> int:
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a time of day: {text!r} (expected HH:MM)")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > 24 * 60:
        raise ValueError(f"not a time of day: {text!r}")
    return total


def _range(
    text: str, names: Mapping[str, int], low: int, high: int, numbers: bool = True
) -> tuple[int, int]:
    """``a`` or ``a:b``, each end a number in [low, high] or one of ``names``."""

    def one(part: str) -> int:
        part = part.strip().lower()
        if part in names:
            return names[part]
        if not numbers:
            raise ValueError(f"not a valid name: {part!r}")
        try:
            number = int(part)
        except ValueError:
            raise ValueError(f"not a valid value: {part!r}") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is outside {low}..{high}")
        return number

    start, sep, end = text.partition(":")
    first = one(start)
    last = one(end) if sep else first
    if (first >= 0) == (last >= 0) and first > last:
        raise ValueError(f"range {text!r} ends before it starts")
    return first, last


class TimeInterval(BaseModel):
    """One interval: each field set narrows it."""

    model_config = ConfigDict(extra="forbid")

    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str = "UTC"

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, values: list[str]) -> list[str]:
        for value in values:
            _range(value, _WEEKDAYS, 0, 6, numbers=False)
        return values

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, values: list[str]) -> list[str]:
        for value in values:
            first, last = _range(value, {}, -31, 31)
            if 0 in (first, last):
                raise ValueError("day of month 0 does not exist")
        return values

    @field_validator("months")
    @classmethod
    def _months(cls, values: list[str]) -> list[str]:
        for value in values:
            _range(value, _MONTHS, 1, 12)
        return values

    @field_validator("years")
    @classmethod
    def _years(cls, values: list[str]) -> list[str]:
        for value in values:
            _range(value, {}, 1, 9999)
        return values

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        try:
            ZoneInfo("UTC" if value == "Local" else value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def contains(self, timestamp: float) -> bool:
        moment = datetime.fromtimestamp(timestamp, ZoneInfo(self.location))
        if self.times and not any(
            span.contains(moment.hour * 60 + moment.minute) for span in self.times
        ):
            return False
        weekday = (moment.weekday() + 1) % 7
        if self.weekdays and not any(
            _within(weekday, _range(text, _WEEKDAYS, 0, 6, numbers=False)) for text in self.weekdays
        ):
            return False
        if self.days_of_month:
            last_day = calendar.monthrange(moment.year, moment.month)[1]
            if not any(
                _within(moment.day, _day_range(_range(text, {}, -31, 31), last_day))
                for text in self.days_of_month
            ):
                return False
        if self.months and not any(
            _within(moment.month, _range(text, _MONTHS, 1, 12)) for text in self.months
        ):
            return False
        return not self.years or any(
            _within(moment.year, _range(text, {}, 1, 9999)) for text in self.years
        )


def _within(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _day_range(bounds: tuple[int, int], last_day: int) -> tuple[int, int]:
    """Negative days count back from the month's last day (-1 is the last day)."""
    first, last = (day + last_day + 1 if day < 0 else day for day in bounds)
    return max(first, 1), min(last, last_day)


class NamedTimeInterval(BaseModel):
    """An entry of ``time_intervals``: a name and the intervals it stands for."""

    model_config = ConfigDict(extra="forbid")

    name: str
    time_intervals: list[TimeInterval] = Field(default_factory=list)


def active(intervals: list[TimeInterval], timestamp: float) -> bool:
    """Whether a named interval (the list of its intervals) holds at ``timestamp``."""
    return any(interval.contains(timestamp) for interval in intervals)
