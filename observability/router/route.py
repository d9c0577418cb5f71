"""The routing tree: which receivers (and with which grouping timers) an alert goes to.

Alertmanager's semantics exactly: a route matches when all its matchers do; children are
tried in order and the first match wins unless it says ``continue: true``; a matching route
none of whose children match is itself the result. Unset settings are inherited from the
parent (``receiver``, ``group_by``, the three timers); ``continue`` and the time intervals are
not.

Routing must stay fast with thousands of sibling routes (one per team or DAG): each node
indexes its children by one equality matcher, so a decision looks at the few children whose
indexed label value equals the alert's plus those without an equality matcher, in their
original order, instead of scanning every sibling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from observability.router.alert import format_labels
from observability.router.duration import Duration
from observability.router.matcher import (
    Matcher,
    MatchType,
    config_matchers,
    format_matchers,
    validate_match,
    validate_match_re,
    validate_matcher_texts,
)
from observability.router.matcher.regex import Regex, RegexError, union

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0
GROUP_BY_ALL = "..."


class RouteConfig(BaseModel):
    """One node of ``route:`` in the YAML file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(default=False, alias="continue")
    matchers: list[str] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _parse(cls, values: list[str]) -> list[str]:
        return validate_matcher_texts(values)

    @field_validator("match")
    @classmethod
    def _names(cls, values: dict[str, str]) -> dict[str, str]:
        return validate_match(values)

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, values: dict[str, str]) -> dict[str, str]:
        return validate_match_re(values)

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be greater than zero")
        return value

    def all_matchers(self) -> list[Matcher]:
        return config_matchers(self.matchers, self.match, self.match_re)


@dataclass(eq=False)
class Route:
    """A compiled node: every setting resolved, children indexed."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    continue_matching: bool
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: list[Route] = field(default_factory=list)
    _index: _ChildIndex | None = field(default=None, repr=False)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` ends at, in tree order (empty if none)."""
        for matcher in self.matchers:
            if not matcher.matches(labels):
                return []
        found: list[Route] = []
        if self._index is not None:
            for position in self._index.candidates(labels):
                child = self.routes[position]
                below = child.match(labels)
                if below:
                    found.extend(below)
                    if not child.continue_matching:
                        break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that name an alert's group on this route (``group_by``, or all)."""
        if self.group_by_all:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Which group of this route an alert joins: route id and group labels."""
        return self.key_of_group(self.group_labels(labels))

    def key_of_group(self, group_labels: Mapping[str, str]) -> str:
        """``group_key`` from the group's labels (``group_labels``), already selected."""
        return f"{self.id}:{format_labels(group_labels)}"

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


class _ChildIndex:
    """Children by the value of one equality matcher each; children that have a positive
    regex instead are pre-filtered by one combined regex per label (when none of them can
    match, which is the usual case, they are skipped in one test); the rest are always tried."""

    def __init__(self, children: Sequence[Route]) -> None:
        popularity = Counter(
            matcher.name
            for child in children
            for matcher in child.matchers
            if matcher.type is MatchType.EQUAL
        )
        self.by_label: dict[str, dict[str, list[int]]] = {}
        by_regex: dict[str, list[tuple[int, Regex]]] = {}
        self.always: list[int] = []
        for position, child in enumerate(children):
            equalities = [m for m in child.matchers if m.type is MatchType.EQUAL]
            regexes = [m for m in child.matchers if m.type is MatchType.REGEX and m.regex]
            if equalities:
                key = max(equalities, key=lambda matcher: popularity[matcher.name])
                self.by_label.setdefault(key.name, {}).setdefault(key.value, []).append(position)
            elif regexes and regexes[0].regex:
                by_regex.setdefault(regexes[0].name, []).append((position, regexes[0].regex))
            else:
                self.always.append(position)
        self.by_regex: list[tuple[str, Regex, list[int]]] = []
        for name, entries in by_regex.items():
            try:
                combined = union([regex for _, regex in entries])
            except RegexError:  # too large for one RE2 program: try each child instead
                self.always.extend(position for position, _ in entries)
                continue
            self.by_regex.append((name, combined, [position for position, _ in entries]))
        self.always.sort()

    def candidates(self, labels: Mapping[str, str]) -> list[int]:
        """Positions of the children that can match, ascending: the only ones worth trying."""
        found = list(self.always)
        for name, values in self.by_label.items():
            hit = values.get(labels.get(name, ""))
            if hit:
                found.extend(hit)
        for name, combined, positions in self.by_regex:
            if combined.matches(labels.get(name, "")):
                found.extend(positions)
        found.sort()
        return found


def build_route(config: RouteConfig) -> Route:
    """Compile the root ``route:``: inherit settings downwards, index every node's children."""
    return _build(config, parent=None, position=0)


def _build(config: RouteConfig, parent: Route | None, position: int) -> Route:
    matchers = tuple(config.all_matchers())
    group_by = config.group_by if config.group_by is not None else None
    route = Route(
        id=(
            format_matchers(matchers)
            if parent is None
            else f"{parent.id}/{format_matchers(matchers)}/{position}"
        ),
        receiver=config.receiver or (parent.receiver if parent else ""),
        matchers=matchers,
        group_by=(
            tuple(name for name in group_by if name != GROUP_BY_ALL)
            if group_by is not None
            else (parent.group_by if parent else ())
        ),
        group_by_all=(
            GROUP_BY_ALL in group_by
            if group_by is not None
            else (parent.group_by_all if parent else False)
        ),
        group_wait=_inherit(config.group_wait, parent.group_wait if parent else DEFAULT_GROUP_WAIT),
        group_interval=_inherit(
            config.group_interval, parent.group_interval if parent else DEFAULT_GROUP_INTERVAL
        ),
        repeat_interval=_inherit(
            config.repeat_interval, parent.repeat_interval if parent else DEFAULT_REPEAT_INTERVAL
        ),
        continue_matching=config.continue_,
        mute_time_intervals=tuple(config.mute_time_intervals),
        active_time_intervals=tuple(config.active_time_intervals),
    )
    route.routes = [_build(child, route, index) for index, child in enumerate(config.routes)]
    if route.routes:
        route._index = _ChildIndex(route.routes)
    return route


def _inherit(own: float | None, inherited: float) -> float:
    return own if own is not None else inherited
