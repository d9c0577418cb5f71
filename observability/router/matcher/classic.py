"""Alertmanager's classic matcher parser (``pkg/labels``), ported rule for rule.

Tolerant by design: braces are trimmed once from each end (so ``{foo=bar}}`` reads the value
``bar}``), values may be unquoted, and inside a value only ``\\n``, ``\\"`` and ``\\\\`` are
escapes; any other backslash is literal (``foo=bar\\`` is ``bar\\``). Label names are classic
Prometheus names. Each parse returns matchers or raises MatcherError.
"""

from __future__ import annotations

import re2

from observability.router.matcher.model import Matcher, MatcherError, MatchType, go_trim_space

# Go's pattern verbatim, run by RE2 as Go runs it (``\s`` is ``[\t\n\f\r ]`` in both).
_MATCHER = re2.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$")


def parse_matchers(text: str) -> list[Matcher]:
    """``labels.ParseMatchers``: comma-separated matchers, commas inside quotes kept."""
    body = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for char in body:
        if char == ",":
            if not inside_quotes:
                tokens.append("".join(token))
                token = []
                continue
        elif char == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = go_trim_space("".join(token))
    if last:
        tokens.append(last)
    return [parse_matcher(token) for token in tokens]


def parse_matcher(text: str) -> Matcher:
    """``labels.ParseMatcher``: ``name op value``, the value optionally double-quoted."""
    found = _MATCHER.search(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, operator, raw = found.group(1), found.group(2), found.group(3)
    expect_trailing_quote = raw.startswith('"')
    chars = raw[1:] if expect_trailing_quote else raw
    value: list[str] = []
    escaped = False
    for index, char in enumerate(chars):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
        elif char == "\\":
            if index < len(chars) - 1:
                escaped = True
            else:
                value.append("\\")
        elif char == '"':
            if not expect_trailing_quote or index < len(chars) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
            expect_trailing_quote = False
        else:
            value.append(char)
    if expect_trailing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
    return Matcher.of(name, MatchType(operator), "".join(value))
