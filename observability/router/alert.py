"""The alert: a label set that fires from ``starts_at`` until ``ends_at``.

This is the one value every stage passes on. Labels identify an alert (its fingerprint is
Alertmanager's FNV-1a hash of the sorted label pairs, so fingerprints agree with Alertmanager's);
annotations carry the human text. An alert whose ``ends_at`` is unset fires until something
resolves it: that is how Cloud Monitoring incidents behave (they are closed explicitly, not
re-sent), unlike Prometheus alerts, which expire after ``resolve_timeout`` unless re-sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from observability.router.timestamps import OptionalMoment, iso

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = b"\xff"

AlertStatus = Literal["firing", "resolved"]


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        digest = _fnv1a(name.encode() + _SEPARATOR + labels[name].encode() + _SEPARATOR, digest)
    return f"{digest:016x}"


def one_label_fingerprint(name: str, value: str) -> str:
    """``fingerprint({name: value})``, with the hash of ``name`` computed once per process:
    an incident's alert is identified by its id alone, and a storm brings thousands."""
    digest = _fnv1a(value.encode() + _SEPARATOR, _after_name(name))
    return f"{digest:016x}"


@lru_cache(maxsize=16)
def _after_name(name: str) -> int:
    return _fnv1a(name.encode() + _SEPARATOR, _FNV_OFFSET)


def _fnv1a(data: bytes, digest: int) -> int:
    """FNV-1a 64 of ``data`` continued from ``digest`` (hashing is byte by byte in Python,
    about 0.15 µs a byte: the part of a label set that never changes is hashed once)."""
    for byte in data:
        digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return digest


_ONLY_STR = frozenset({str})


def stored_labels(value: object) -> dict[str, str]:
    """A label (or annotation) map read from the database: strings, whatever it holds.

    Ingest stores maps of strings only, but a database edited by hand, by another tool or by
    an older router may hold a number, a list or null there. Read as they were, such values
    broke every matcher, template and API read meeting them (the whole dispatch pass, once an
    inhibit rule compared them); read as their JSON text, the alert is routed and shown.
    """
    if not isinstance(value, dict):
        return {}
    if _ONLY_STR.issuperset(map(type, value.values())):  # every row ingest wrote: fast
        return value
    return {
        str(name): item if isinstance(item, str) else json.dumps(item)
        for name, item in value.items()
        if item is not None
    }


def format_labels(labels: Mapping[str, str]) -> str:
    """``{a="1", b="2"}``, sorted: how group keys and logs spell a label set."""
    inner = ", ".join(f"{name}={_quote(labels[name])}" for name in sorted(labels))
    return "{" + inner + "}"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Alert:
    """One alert as stored. ``incident_*`` are set for alerts born from Cloud Monitoring."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None
    updated_at: float
    generator_url: str = ""
    incident_id: str | None = None
    incident_state: str | None = None

    def firing(self, now: float) -> bool:
        """Whether the alert fires at ``now``: no end yet, or an end still in the future."""
        return self.ends_at is None or self.ends_at > now

    def status(self, now: float) -> AlertStatus:
        return "firing" if self.firing(now) else "resolved"

    def to_api(self, now: float) -> dict[str, object]:
        """The alert in Alertmanager's v2/webhook spelling (camelCase, RFC 3339 times)."""
        return {
            "status": self.status(now),
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at) or "0001-01-01T00:00:00Z",
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


class PostableAlert(BaseModel):
    """One element of Alertmanager's ``POST /api/v2/alerts`` body, as Prometheus sends it."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: OptionalMoment = None
    endsAt: OptionalMoment = None
    generatorURL: str = ""

    @field_validator("labels")
    @classmethod
    def _names_not_empty(cls, labels: dict[str, str]) -> dict[str, str]:
        if any(not name for name in labels):
            raise ValueError("label names must not be empty")
        return {name: value for name, value in labels.items() if value != ""}

    @model_validator(mode="after")
    def _ends_after_start(self) -> PostableAlert:
        """Alertmanager's own check: an alert cannot end before it starts."""
        if self.startsAt and self.endsAt and self.endsAt < self.startsAt:
            raise ValueError("endsAt must not be before startsAt")
        return self

    def to_alert(self, now: float, resolve_timeout: float) -> Alert:
        """Alertmanager's rules: no start means now; no end means ``now + resolve_timeout``."""
        starts_at = self.startsAt.timestamp() if self.startsAt else now
        ends_at = self.endsAt.timestamp() if self.endsAt else now + resolve_timeout
        labels = dict(self.labels)
        return Alert(
            fingerprint=fingerprint(labels),
            labels=labels,
            annotations=dict(self.annotations),
            starts_at=starts_at,
            ends_at=ends_at,
            updated_at=now,
            generator_url=self.generatorURL,
        )
