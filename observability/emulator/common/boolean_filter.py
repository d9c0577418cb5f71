"""The boolean frame that Cloud Monitoring's two filter languages share.

The emulator speaks two of them: the metric filter of time series and alert conditions
(``monitoring_filter``) and the list filter of alert policies and channels
(``alert_policies.listing``). Their terms differ (selectors and functions against field paths,
label maps and ``.size``), but everything around the terms is the same language: quoted
strings with backslash escapes, ``NOT`` (or ``-``) binding tightest, then ``AND`` (juxtaposition
is ``AND`` too), then ``OR``, parentheses grouping, and errors that name the 0-based character
offset. This module holds that frame once: a token pattern built from each language's operators
and words, and ``BooleanParser``, which parses the frame into an ``AnyOf``/``AllOf``/``Not``
tree and leaves each term to the language (``BooleanParser.term``). Keeping the tree apart from
its meaning lets one language compile it to a test and read other facts from it as well (the
metric types a time-series filter pins down).
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, TypeAlias, TypeVar, Union

DOUBLE_QUOTED: Final = r'"(?:[^"\\]|\\.)*"'
"""A double-quoted string with backslash escapes, as a regex (for words that embed one)."""

ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
"""The ordering operators both languages have, by their spelling."""


def token_pattern(*, operators: str, minus: str, word: str) -> re.Pattern[str]:
    """The tokenizer of a language whose operators, ``-`` and bare words are these regexes.

    Strings (single- or double-quoted) and the punctuation ``( ) ,`` are the same in both.
    """
    return re.compile(
        rf"""\s*(?:
            (?P<string>{DOUBLE_QUOTED}|'(?:[^'\\]|\\.)*')
          | (?P<op>{operators})
          | (?P<punct>[(),])
          | (?P<minus>{minus})
          | (?P<word>{word})
        )""",
        re.VERBOSE,
    )


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme and where it starts (0-based), for error positions."""

    kind: str  # string, op, punct, minus, word, or end
    text: str
    pos: int


def unquote(text: str) -> str:
    """The content of a quoted string token: quotes dropped, backslash escapes resolved."""
    return re.sub(r"\\(.)", r"\1", text[1:-1])


Term = TypeVar("Term")
View = TypeVar("View")


@dataclass(frozen=True, slots=True)
class AnyOf(Generic[Term]):
    """``a OR b OR ...``: two parts or more."""

    parts: tuple[Expr[Term], ...]


@dataclass(frozen=True, slots=True)
class AllOf(Generic[Term]):
    """``a AND b ...`` or ``a b ...``: two parts or more."""

    parts: tuple[Expr[Term], ...]


@dataclass(frozen=True, slots=True)
class Not(Generic[Term]):
    """``NOT a`` or ``-a``."""

    inner: Expr[Term]


Expr: TypeAlias = Union["AnyOf[Term]", "AllOf[Term]", "Not[Term]", Term]
"""A parsed filter: the boolean frame with the language's terms at its leaves. A group in
parentheses is its content; a single part is never wrapped."""


def compile_test(
    expr: Expr[Term], term_test: Callable[[Term], Callable[[View], bool]]
) -> Callable[[View], bool]:
    """A predicate for ``expr``, with ``term_test`` giving each term's own."""
    if isinstance(expr, AnyOf):
        any_tests = [compile_test(part, term_test) for part in expr.parts]
        return lambda view: any(test(view) for test in any_tests)
    if isinstance(expr, AllOf):
        all_tests = [compile_test(part, term_test) for part in expr.parts]
        return lambda view: all(test(view) for test in all_tests)
    if isinstance(expr, Not):
        inner = compile_test(expr.inner, term_test)
        return lambda view: not inner(view)
    return term_test(expr)


class BooleanParser(ABC, Generic[Term]):
    """Recursive descent over the boolean frame; a language subclass parses the terms.

    The subclass sets ``pattern`` (from ``token_pattern``) and says how its errors read:
    ``error`` for any message at a position, ``unexpected_character`` for what does not
    tokenize, ``missing`` for what ``expect`` did not find.
    """

    pattern: ClassVar[re.Pattern[str]]
    and_stops: ClassVar[str] = ")"
    """Punctuation that ends a run of ANDed terms (then the caller reports it if misplaced)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize()
        self.i = 0

    @abstractmethod
    def term(self) -> Term:
        """Parse one comparison (or whatever the language's leaf is) at the current token."""

    @abstractmethod
    def error(self, message: str, pos: int) -> Exception:
        """The exception for a filter that does not parse, ``message`` at offset ``pos``."""

    @abstractmethod
    def unexpected_character(self, gap_start: int, pos: int) -> Exception:
        """The error for ``text[pos]``, which starts no token (after whitespace from
        ``gap_start``)."""

    @abstractmethod
    def missing(self, want: str, token: Token) -> Exception:
        """The error for ``token`` standing where ``want`` (a description) had to be."""

    def parse(self) -> Expr[Term]:
        """The whole filter; anything left over is an error at its position."""
        expr = self._any_of()
        token = self.peek()
        if token.kind != "end":
            raise self.error(f"unexpected {token.text!r}", token.pos)
        return expr

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[self.i + ahead]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> Token:
        """The next token, which must be of ``kind`` (and spelled ``text``, if given)."""
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise self.missing(repr(text) if text else kind, token)
        return token

    def _tokenize(self) -> list[Token]:
        text = self.text
        tokens: list[Token] = []
        pos = 0
        while True:
            gap_start = pos
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            match = self.pattern.match(text, pos)
            if match is None:
                raise self.unexpected_character(gap_start, pos)
            kind = match.lastgroup or ""
            tokens.append(Token(kind, match.group(kind), match.start(kind)))
            pos = match.end()
        tokens.append(Token("end", "", len(text)))
        return tokens

    def _is_word(self, token: Token, word: str) -> bool:
        return token.kind == "word" and token.text == word

    def _any_of(self) -> Expr[Term]:
        parts = [self._all_of()]
        while self._is_word(self.peek(), "OR"):
            self.take()
            parts.append(self._all_of())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def _all_of(self) -> Expr[Term]:
        parts = [self._unary()]
        while True:
            token = self.peek()
            if token.kind == "end" or (token.kind == "punct" and token.text in self.and_stops):
                break
            if self._is_word(token, "OR"):
                break
            if self._is_word(token, "AND"):
                self.take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _unary(self) -> Expr[Term]:
        token = self.peek()
        if token.kind == "minus" or self._is_word(token, "NOT"):
            self.take()
            return Not(self._unary())
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self._any_of()
            self.expect("punct", ")")
            return inner
        return self.term()
