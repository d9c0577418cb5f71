"""Label matchers: ``name="v"``, ``!=``, ``=~`` and ``!~``, with Alertmanager's semantics.

Regexes are anchored (they must match the whole value) and a missing label matches as the
empty string, so ``team=""`` selects alerts without a team and ``team!~".+"`` does too.
The text syntax is Alertmanager's: one or more matchers separated by commas, optionally in
braces, values optionally double-quoted (with ``\\"``, ``\\\\`` and ``\\n`` escapes).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class MatchType(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regex does not compile."""


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    type: MatchType
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, type_: MatchType, value: str) -> Matcher:
        """A matcher with its regex compiled once (anchored, as Alertmanager does)."""
        pattern = None
        if type_ in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                pattern = re.compile(f"(?:{value})")
            except re.error as exc:
                raise MatcherError(f"invalid regex {value!r} for {name}: {exc}") from None
        return cls(name, type_, value, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._pattern is not None
        found = self._pattern.fullmatch(actual) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
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


_NAME = r'[^\s=!~,{}"]+'
_TOKEN = re.compile(
    rf'\s*(?P<name>{_NAME}|"(?:[^"\\]|\\.)*")\s*(?P<op>=~|!~|!=|=)\s*'
    rf'(?P<value>"(?:[^"\\]|\\.)*"|(?:[^",{{}}\s][^,}}]*?)?)\s*(?:,|$)',
    re.DOTALL,
)
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    out, chars = [], iter(text[1:-1])
    for char in chars:
        if char == "\\":
            escaped = next(chars, "\\")
            out.append(_ESCAPES.get(escaped, "\\" + escaped))
        else:
            out.append(char)
    return "".join(out)


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``a="1", b=~"x|y"`` (braces optional) into matchers, or raise MatcherError."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"unbalanced braces in {text!r}")
        body = body[1:-1].strip()
    if not body:
        return []
    if re.sub(r"\\.", "", body).count('"') % 2:
        raise MatcherError(f"a value's closing \" is missing in {text!r}")
    matchers, position = [], 0
    while position < len(body):
        found = _TOKEN.match(body, position)
        if found is None or found.end() == position:
            raise MatcherError(f"cannot parse matcher {body[position:]!r} in {text!r}")
        value = found["value"]
        if not value.startswith('"') and '"' in value:
            raise MatcherError(f"unquoted value {value!r} must be double-quoted in {text!r}")
        matchers.append(
            Matcher.of(_unquote(found["name"]), MatchType(found["op"]), _unquote(value))
        )
        position = found.end()
    return matchers


def matchers_from_legacy(match: Mapping[str, str], match_re: Mapping[str, str]) -> list[Matcher]:
    """The deprecated ``match`` / ``match_re`` maps as matchers."""
    exact = [Matcher.of(name, MatchType.EQUAL, value) for name, value in sorted(match.items())]
    regex = [Matcher.of(name, MatchType.REGEX, value) for name, value in sorted(match_re.items())]
    return exact + regex


def config_matchers(
    texts: Iterable[str], match: Mapping[str, str], match_re: Mapping[str, str]
) -> list[Matcher]:
    """The matchers of one config section: its ``matchers`` strings, then the legacy maps.

    Routes and inhibition rules both accept the two spellings side by side, as Alertmanager does.
    """
    parsed = [matcher for text in texts for matcher in parse_matchers(text)]
    return parsed + matchers_from_legacy(match, match_re)


def validate_matcher_texts(texts: list[str]) -> list[str]:
    """Pydantic validator body for a list of matcher strings: parse each one now so a bad
    config fails at load, reported as a plain ValueError on the field."""
    for text in texts:
        try:
            parse_matchers(text)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
    return texts


def validate_match_re(match_re: dict[str, str]) -> dict[str, str]:
    """Pydantic validator body for a legacy ``match_re`` map: compile each regex at load."""
    try:
        matchers_from_legacy({}, match_re)
    except MatcherError as exc:
        raise ValueError(str(exc)) from None
    return match_re
