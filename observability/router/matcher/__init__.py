"""Label matchers in Alertmanager's language: the matcher, its RE2 regexes, its two parsers.

``model`` is the matcher and how it prints, ``regex`` the RE2 regexes, ``classic`` and ``utf8``
Alertmanager's two parsers, ``parse`` how Alertmanager combines them by default (and the config
helpers), ``gostring`` Go's string quoting both rely on.
"""

from observability.router.matcher.model import (
    Matcher,
    MatcherError,
    MatchType,
    format_matchers,
    matches_all,
)
from observability.router.matcher.parse import (
    config_matchers,
    matchers_from_legacy,
    parse_matchers,
    validate_match,
    validate_match_re,
    validate_matcher_texts,
)

__all__ = [
    "MatchType",
    "Matcher",
    "MatcherError",
    "config_matchers",
    "format_matchers",
    "matchers_from_legacy",
    "matches_all",
    "parse_matchers",
    "validate_match",
    "validate_match_re",
    "validate_matcher_texts",
]
