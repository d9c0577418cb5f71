"""Inhibition: a firing alert (the source) mutes others (the targets) that share some labels.

The typical rule for Composer: while ``ComposerEnvironmentUnhealthy`` fires for an
environment, mute the task failures of the same ``environment_name``, which it causes.
Alertmanager's semantics: only firing sources inhibit; missing ``equal`` labels compare as
empty; an alert matching both sides of a rule is never muted by another alert that does too,
so two such alerts cannot mute each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from observability.router.matcher import (
    Matcher,
    config_matchers,
    matches_all,
    validate_match,
    validate_match_re,
    validate_matcher_texts,
)


class InhibitRuleConfig(BaseModel):
    """One entry of ``inhibit_rules:``."""

    model_config = ConfigDict(extra="forbid")

    source_matchers: list[str] = Field(default_factory=list)
    target_matchers: list[str] = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _parse(cls, values: list[str]) -> list[str]:
        return validate_matcher_texts(values)

    @field_validator("source_match", "target_match")
    @classmethod
    def _names(cls, values: dict[str, str]) -> dict[str, str]:
        return validate_match(values)

    @field_validator("source_match_re", "target_match_re")
    @classmethod
    def _regexes(cls, values: dict[str, str]) -> dict[str, str]:
        return validate_match_re(values)


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, config: InhibitRuleConfig) -> InhibitRule:
        source = config_matchers(
            config.source_matchers, config.source_match, config.source_match_re
        )
        target = config_matchers(
            config.target_matchers, config.target_match, config.target_match_re
        )
        return cls(
            source=tuple(source),
            target=tuple(target),
            equal=tuple(config.equal),
        )

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.equal)


class Firing(Protocol):
    """What inhibition needs of a firing alert (an ``Alert``, or just these two columns: the
    dispatcher reads no more of the firing alerts than this)."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


class Inhibitor:
    """Answers "is this alert inhibited, and by what?" for one moment's set of firing alerts."""

    def __init__(self, rules: Iterable[InhibitRule], firing: Iterable[Firing]) -> None:
        self._rules = list(rules)
        self._sources: list[dict[tuple[str, ...], list[tuple[str, bool]]]] = [
            {} for _ in self._rules
        ]
        for alert in firing:
            for rule, sources in zip(self._rules, self._sources, strict=True):
                if matches_all(rule.source, alert.labels):
                    two_sided = matches_all(rule.target, alert.labels)
                    sources.setdefault(rule.key(alert.labels), []).append(
                        (alert.fingerprint, two_sided)
                    )

    def inhibited_by(self, labels: Mapping[str, str], fingerprint: str) -> str | None:
        """Fingerprint of a source alert that mutes this one, or None."""
        for rule, sources in zip(self._rules, self._sources, strict=True):
            if not sources or not matches_all(rule.target, labels):
                continue
            also_source = matches_all(rule.source, labels)
            for source, two_sided in sources.get(rule.key(labels), ()):
                if source != fingerprint and not (also_source and two_sided):
                    return source
        return None
