"""Tokenizer for the Logging query language.

Whitespace is significant in two places only, so tokens keep their ``start``/``end``
offsets: a word directly followed by ``(`` is a function call (``log_id("x")``), and a
``-`` directly followed by a number is a negative number when it stands where a value
is expected (``jsonPayload.delta > -5``), while elsewhere ``-`` means NOT.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from observability.logfilter.errors import FilterError

MAX_FILTER_LENGTH = 20_000  # Cloud Logging rejects longer filters (comments included)

KEYWORDS = frozenset({"AND", "OR", "NOT"})  # operators only when written in upper case


class TokenKind(enum.Enum):
    """Kinds of lexical tokens."""

    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    KEYWORD = "keyword"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    DOT = "."
    STAR = "*"
    MINUS = "-"
    EOF = "end of filter"


@dataclass(frozen=True, slots=True)
class Token:
    """One token; ``text`` is the decoded value for strings and the source text otherwise."""

    kind: TokenKind
    text: str
    start: int
    end: int

    def describe(self) -> str:
        """Name the token the way an error message should quote it."""
        if self.kind is TokenKind.EOF:
            return "end of filter"
        if self.kind is TokenKind.KEYWORD:
            return self.text
        if self.kind is TokenKind.STRING:
            return f"string {_quote(self.text)}"
        return _quote(self.text)


def _quote(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Unquoted text may not contain the characters the docs list as special, nor "--"
# (a comment) nor a backslash; "-" and "/" inside a word are fine (us-central1-a).
_WORD_RE = re.compile(r'(?:[^\s()"=!<>:~,.*\\-]|-(?!-))+')
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_OPERATORS = ("=~", "!=", "!~", "<=", ">=", "=", "<", ">", ":")
_PUNCTUATION = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    ",": TokenKind.COMMA,
    ".": TokenKind.DOT,
    "*": TokenKind.STAR,
}
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "'": "'",
    "`": "`",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token; raise FilterError on bad input."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter is longer than {MAX_FILTER_LENGTH:,} characters", MAX_FILTER_LENGTH, text
        )
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline == -1 else newline + 1
            continue
        if c == '"':
            value, end = _read_string(text, i)
            tokens.append(Token(TokenKind.STRING, value, i, end))
            i = end
            continue
        if c == "-":
            tokens.append(Token(TokenKind.MINUS, "-", i, i + 1))
            i += 1
            continue
        kind = _PUNCTUATION.get(c)
        if kind is not None:
            tokens.append(Token(kind, c, i, i + 1))
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token(TokenKind.OP, op, i, i + len(op)))
            i += len(op)
            continue
        word = _WORD_RE.match(text, i)
        if word is None:
            hint = " (quote text that contains it)" if c in "!~\\" else ""
            raise FilterError(f"unexpected {_quote(c)}{hint}", i, text)
        tokens.append(_word_or_number(text, i, word.end()))
        i = tokens[-1].end
    tokens.append(Token(TokenKind.EOF, "", n, n))
    return tokens


def _word_or_number(text: str, start: int, word_end: int) -> Token:
    """Classify unquoted text starting at ``start``.

    A number may run over a "." (``0.25``) where a word must stop, so the longer of
    the two readings wins: ``2xx`` and ``2026-11-23`` are words, ``1.5e3`` a number.
    """
    number = _NUMBER_RE.match(text, start)
    if number is not None and number.end() >= word_end:
        end = number.end()
        follow = _WORD_RE.match(text, end)
        if follow is not None:
            raise FilterError(f"malformed number {_quote(text[start : follow.end()])}", start, text)
        return Token(TokenKind.NUMBER, text[start:end], start, end)
    word = text[start:word_end]
    kind = TokenKind.KEYWORD if word in KEYWORDS else TokenKind.WORD
    return Token(kind, word, start, word_end)


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode the double-quoted string at ``start``; return (value, end offset).

    An unknown escape such as ``\\d`` is kept as written (backslash included) because
    Cloud Logging users write regular expressions like ``=~ "\\d+"`` in plain strings.
    """
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            break
        e = text[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in _HEX_ESCAPES:
            width = _HEX_ESCAPES[e]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise FilterError(f"\\{e} needs {width} hex digits", i, text)
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise FilterError(f"escape \\{e}{digits} is not a Unicode character", i, text)
            out.append(chr(code))
            i += 2 + width
        elif _is_octal(text[i + 1 : i + 4]):
            out.append(chr(int(text[i + 1 : i + 4], 8)))  # "\377" as in the docs' bytes example
            i += 4
        else:
            out.append("\\" + e)
            i += 2
    raise FilterError("unterminated string", start, text)


def _is_octal(digits: str) -> bool:
    return len(digits) == 3 and all(d in "01234567" for d in digits)
