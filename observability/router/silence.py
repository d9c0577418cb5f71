"""Silences: matchers plus a time window that mute matching alerts, as in Alertmanager.

A silence mutes an alert while ``starts_at <= now < ends_at`` and all its matchers match.
Expiring sets ``ends_at`` to now (the API's DELETE); nothing is ever deleted, so the history
shows who silenced what, when and why. A silence must have a matcher that does not match the
empty string, or it would mute every alert lacking a label: Alertmanager refuses those too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, Row, select

from observability.router.matcher import Matcher, MatcherError, matches_all
from observability.router.store import silences
from observability.router.timestamps import Moment, iso

SilenceState = Literal["active", "pending", "expired"]


class SilenceNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: dict[str, str], now: float) -> bool:
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def to_api(self, now: float) -> dict[str, Any]:
        """Alertmanager's ``GettableSilence``."""
        return {
            "id": self.id,
            "matchers": [matcher.to_api() for matcher in self.matchers],
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at),
            "updatedAt": iso(self.updated_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.state(now)},
        }


class ApiMatcher(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    value: str
    isRegex: bool = False
    isEqual: bool = True

    def to_matcher(self) -> Matcher:
        return Matcher.from_api(self.name, self.value, self.isRegex, self.isEqual)


class PostableSilence(BaseModel):
    """Alertmanager's ``PostableSilence`` (``id`` set: update that silence)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    matchers: list[ApiMatcher] = Field(min_length=1)
    startsAt: Moment
    endsAt: Moment
    createdBy: str = Field(min_length=1, max_length=256)
    comment: str = Field(min_length=1)

    @model_validator(mode="after")
    def _sane(self) -> PostableSilence:
        if self.endsAt <= self.startsAt:
            raise ValueError("endsAt must be after startsAt")
        try:
            matchers = [matcher.to_matcher() for matcher in self.matchers]
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        if all(matcher.matches({}) for matcher in matchers):
            raise ValueError("at least one matcher must not match the empty string")
        return self


def _from_row(row: Row[Any]) -> Silence:
    return Silence(
        id=row.id,
        matchers=tuple(Matcher.from_api(**matcher) for matcher in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        updated_at=row.updated_at,
    )


def _stored_matchers(matchers: list[ApiMatcher]) -> list[dict[str, Any]]:
    return [
        {"name": m.name, "value": m.value, "is_regex": m.isRegex, "is_equal": m.isEqual}
        for m in matchers
    ]


def save_silence(connection: Connection, silence: PostableSilence, now: float) -> str:
    """Create a silence, or update the one named by ``id``; returns its id.

    As in Alertmanager, a silence that has already expired cannot be changed; a new one is
    created instead, so the record of the old one stays as it was.
    """
    values = {
        "matchers": _stored_matchers(silence.matchers),
        "starts_at": max(silence.startsAt.timestamp(), now),
        "ends_at": silence.endsAt.timestamp(),
        "created_by": silence.createdBy,
        "comment": silence.comment,
        "updated_at": now,
    }
    if silence.id is not None:
        current = get_silence(connection, silence.id)
        if current.state(now) != "expired":
            if current.state(now) == "active":
                values["starts_at"] = current.starts_at
            connection.execute(silences.update().where(silences.c.id == silence.id).values(values))
            return silence.id
    new_id = str(uuid.uuid4())
    connection.execute(silences.insert().values(id=new_id, **values))
    return new_id


def expire_silence(connection: Connection, silence_id: str, now: float) -> Silence:
    """End a silence now; expiring an expired silence is an error, as in Alertmanager."""
    current = get_silence(connection, silence_id)
    if current.state(now) == "expired":
        raise SilenceNotFound(f"silence {silence_id} has already expired")
    ends_at = now if current.state(now) == "active" else current.starts_at
    connection.execute(
        silences.update().where(silences.c.id == silence_id).values(ends_at=ends_at, updated_at=now)
    )
    return get_silence(connection, silence_id)


def get_silence(connection: Connection, silence_id: str) -> Silence:
    row = connection.execute(select(silences).where(silences.c.id == silence_id)).first()
    if row is None:
        raise SilenceNotFound(f"no silence {silence_id}")
    return _from_row(row)


def list_silences(connection: Connection) -> list[Silence]:
    rows = connection.execute(select(silences).order_by(silences.c.ends_at.desc()))
    return [_from_row(row) for row in rows]


def active_silences(connection: Connection, now: float) -> list[Silence]:
    query = select(silences).where(silences.c.starts_at <= now, silences.c.ends_at > now)
    return [_from_row(row) for row in connection.execute(query)]
