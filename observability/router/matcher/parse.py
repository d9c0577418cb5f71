"""Reading matcher strings the way Alertmanager does by default: its "fallback" mode.

Alertmanager (0.27 and later, without ``--enable-feature``) parses every matcher string with both
of its parsers: the UTF-8 parser's reading wins when the classic parser refuses the input or
reads it the same way; when the classic parser accepts the input and the UTF-8 one refuses it or
reads it differently, the classic reading wins (Alertmanager logs a warning). So ``foo=bar\\n``
(classic only) is ``bar`` + newline, ``{foo=bar}}`` is ``bar}``, ``foo="\\t"`` stays the two
characters backslash and ``t`` (both parse it; they disagree), while ``"foo bar"="\\t"`` (UTF-8
only) is a tab. An input both refuse is refused with the classic parser's message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from observability.router.matcher import classic, utf8
from observability.router.matcher.model import Matcher, MatcherError, MatchType
from observability.router.matcher.regex import go_string

# Prometheus' LabelNameRE: what ``match``/``match_re`` keys must be.
_CLASSIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``a="1", b=~"x|y"`` (braces optional) as Alertmanager does, or raise MatcherError."""
    if go_string(text) != text:
        raise MatcherError(f"matcher is not valid UTF-8: {text!r}")
    try:
        modern = utf8.parse_matchers(text)
    except MatcherError:
        return classic.parse_matchers(text)
    try:
        legacy = classic.parse_matchers(text)
    except MatcherError:
        return modern
    return legacy if _key(legacy) != _key(modern) else modern


def _key(matchers: list[Matcher]) -> list[tuple[MatchType, str, str]]:
    return [(matcher.type, matcher.name, matcher.value) for matcher in matchers]


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


def validate_match(match: dict[str, str]) -> dict[str, str]:
    """Pydantic validator body for a legacy ``match`` map: classic label names only."""
    for name in match:
        _check_classic_name(name)
    return match


def validate_match_re(match_re: dict[str, str]) -> dict[str, str]:
    """Pydantic validator body for a legacy ``match_re`` map: classic names, RE2 regexes."""
    validate_match(match_re)
    try:
        matchers_from_legacy({}, match_re)
    except MatcherError as exc:
        raise ValueError(str(exc)) from None
    return match_re


def _check_classic_name(name: str) -> None:
    if not _CLASSIC_NAME.match(name):
        raise ValueError(f"invalid label name {name!r}")
