"""A label matcher: ``name="v"``, ``!=``, ``=~`` and ``!~``, with Alertmanager's semantics.

Regexes are RE2, anchored (they must match the whole value), and a missing label matches as
the empty string, so ``team=""`` selects alerts without a team and ``team!~".+"`` does too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from observability.router.matcher.gostring import quote
from observability.router.matcher.regex import Regex, RegexError, go_string

# Go's unicode.IsSpace, the Unicode White_Space property (str.isspace() also counts U+001C-F).
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
)
# Characters that make Alertmanager quote a label name when printing (its lexer's reserved set).
RESERVED = frozenset("{}!=~,\\\"'`") | GO_SPACE


def go_trim_space(text: str) -> str:
    """``strings.TrimSpace``."""
    start, end = 0, len(text)
    while start < end and text[start] in GO_SPACE:
        start += 1
    while end > start and text[end - 1] in GO_SPACE:
        end -= 1
    return text[start:end]


class MatchType(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regex RE2 refuses."""


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    type: MatchType
    value: str
    _regex: Regex | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, type_: MatchType, value: str) -> Matcher:
        """A matcher with its regex compiled once, as Alertmanager's ``NewMatcher`` does."""
        name, value = go_string(name), go_string(value)
        regex = None
        if type_ in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                regex = Regex(value)
            except RegexError as exc:
                raise MatcherError(f"invalid regex for {name}: {exc}") from None
        return cls(name, type_, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.matches(actual)
        return found if self.type is MatchType.REGEX else not found

    @property
    def regex(self) -> Regex | None:
        return self._regex

    def __str__(self) -> str:
        """Alertmanager's spelling, which both of its parsers read back to this matcher: a name
        with reserved characters (or an empty one) and its value in Go quoting, else the bare
        name and the value with ``\\\\``, ``\\n`` and ``\\"`` escaped."""
        if not self.name or any(char in RESERVED for char in self.name):
            return f"{quote(self.name)}{self.type.value}{quote(self.value)}"
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'

    def to_api(self) -> dict[str, object]:
        """Alertmanager's API spelling: ``{name, value, isRegex, isEqual}``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.type in (MatchType.REGEX, MatchType.NOT_REGEX),
            "isEqual": self.type in (MatchType.EQUAL, MatchType.REGEX),
        }

    @classmethod
    def from_api(cls, name: str, value: str, is_regex: bool, is_equal: bool = True) -> Matcher:
        if is_regex:
            return cls.of(name, MatchType.REGEX if is_equal else MatchType.NOT_REGEX, value)
        return cls.of(name, MatchType.EQUAL if is_equal else MatchType.NOT_EQUAL, value)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    return "{" + ",".join(str(matcher) for matcher in matchers) + "}"
