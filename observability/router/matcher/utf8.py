"""Alertmanager's UTF-8 matcher parser (``matcher/parse``), ported rule for rule.

Strict where the classic parser is tolerant: an optional ``{`` needs its ``}``, a name or value
is either free of reserved characters (``{}!=~,\\"'``, backtick, white space) or double-quoted
with Go's escapes (decoded: ``"\\t"`` is a tab, ``"\\U0001f642"`` is 🙂, an unknown escape is an
error), and any UTF-8 label name is allowed (``"foo bar"="x"``, ``foo🙂=x``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from observability.router.matcher.gostring import UnquoteError, unquote
from observability.router.matcher.model import GO_SPACE, RESERVED, Matcher, MatcherError, MatchType


class _Kind(enum.Enum):
    OPEN = "{"
    CLOSE = "}"
    COMMA = ","
    OPERATOR = "operator"
    QUOTED = "quoted"
    UNQUOTED = "unquoted"
    END = "end of input"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    column: int

    def unquote(self) -> str:
        if self.kind is not _Kind.QUOTED:
            return self.text
        try:
            return unquote(self.text)
        except UnquoteError:
            raise MatcherError(f"{self.column}: {self.text}: invalid input") from None


def _tokens(text: str) -> list[_Token]:
    """The lexer: every token up to the end, or MatcherError where the input stops lexing."""
    found: list[_Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        start = position
        if char in GO_SPACE:
            position += 1
            continue
        if char in "{},":
            found.append(_Token(_Kind(char), char, start))
            position += 1
        elif char in "=!":
            operator = text[position : position + 2]
            if operator not in ("=~", "!=", "!~"):
                operator = char
            if operator == "!":
                raise MatcherError(f"{start}: {text[start : start + 2]}: expected one of '=~'")
            found.append(_Token(_Kind.OPERATOR, operator, start))
            position += len(operator)
        elif char == '"':
            position = _end_of_quoted(text, position)
            found.append(_Token(_Kind.QUOTED, text[start:position], start))
        elif char not in RESERVED:
            while position < len(text) and text[position] not in RESERVED:
                position += 1
            found.append(_Token(_Kind.UNQUOTED, text[start:position], start))
        else:
            raise MatcherError(f"{start}: {char}: invalid input")
    found.append(_Token(_Kind.END, "", len(text)))
    return found


def _end_of_quoted(text: str, position: int) -> int:
    escaped = False
    for index in range(position + 1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index + 1
    raise MatcherError(f'{position}: {text[position:]}: missing end "')


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self, *kinds: _Kind, wanted: str) -> _Token:
        token = self.peek()
        if token.kind not in kinds:
            what = "end of input" if token.kind is _Kind.END else f"unexpected {token.text}"
            raise MatcherError(f"{token.column}: {what}: expected {wanted}")
        self.position += 1
        return token

    def parse(self) -> list[Matcher]:
        if self.peek().kind is _Kind.END:
            return []
        opened = self.peek().kind is _Kind.OPEN
        if opened:
            self.position += 1
        matchers: list[Matcher] = []
        while self.peek().kind not in (_Kind.CLOSE, _Kind.END):
            matchers.append(self.matcher())
            if self.peek().kind is _Kind.COMMA:
                self.position += 1
            elif self.peek().kind not in (_Kind.CLOSE, _Kind.END):
                self.take(_Kind.COMMA, _Kind.CLOSE, wanted="a comma or close brace")
        if opened:
            self.take(_Kind.CLOSE, wanted="close brace")
        elif self.peek().kind is _Kind.CLOSE:
            raise MatcherError(f"{self.peek().column}: }}: expected opening brace")
        self.take(_Kind.END, wanted="end of input")
        return matchers

    def matcher(self) -> Matcher:
        name = self.take(_Kind.QUOTED, _Kind.UNQUOTED, wanted="label name").unquote()
        operator = self.take(_Kind.OPERATOR, wanted="an operator such as '=', '!=', '=~' or '!~'")
        value = self.take(_Kind.QUOTED, _Kind.UNQUOTED, wanted="label value").unquote()
        return Matcher.of(name, MatchType(operator.text), value)


def parse_matchers(text: str) -> list[Matcher]:
    """``parse.Matchers``: zero or more matchers, or MatcherError."""
    return _Parser(text).parse()
