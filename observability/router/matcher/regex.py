"""Alertmanager's regexes: RE2 syntax (Go's ``regexp``), anchored as ``^(?:...)$``.

Alertmanager compiles ``"^(?:" + value + ")$"`` with Go's RE2 and matches with it, so inline
flags anywhere (``(?i)disk.*``, ``foo(?s:.)bar``) work, and Perl features RE2 cannot run in linear
time (backreferences, lookarounds, possessive repetition) are refused. This module uses the real
RE2 (the ``google-re2`` binding), which has the same syntax and the same linear-time guarantee, so
a regex means here what it means in Alertmanager and no pattern can backtrack for hours. The one
difference between Go's RE2 and the C++ one, ``\\C`` (any byte, refused by Go), is refused here.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2
from re2 import _re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are raised to the caller, not printed to stderr
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED  # the pattern carries its own anchors
_NO_MATCH = (-1, -1)


class RegexError(ValueError):
    """A regex RE2 (as Alertmanager runs it) refuses."""


def anchored(source: str) -> str:
    """The pattern Alertmanager compiles for ``source``: by concatenation, as Go does."""
    return "^(?:" + source + ")$"


def go_string(text: str) -> str:
    """``text`` as Go sees it after JSON decoding: lone surrogates become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class Regex:
    """One compiled Alertmanager regex; ``matches`` tests a whole label value."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        _refuse_any_byte(source)
        self._compiled = _compile(anchored(source), source)

    def matches(self, value: str) -> bool:
        """Whether the whole of ``value`` matches. The compiled RE2 object is called directly:
        the binding's ``re``-like ``search`` builds a match object and maps byte offsets back
        to characters, which made a routing decision over regex routes 3 to 5 times slower
        than with Python's ``re`` (measured on bench/router.py's 10,000-route tree)."""
        data = go_string(value).encode("utf-8")
        return bool(self._compiled._regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH)


def union(regexes: Sequence[Regex]) -> Regex:
    """One regex matching what any of ``regexes`` matches (each keeps its own anchors and
    flags: a compiled pattern wrapped in ``(?:...)`` means what it meant alone)."""
    combined = object.__new__(Regex)
    combined.source = "|".join(regex.source for regex in regexes)
    pattern = "|".join(f"(?:{anchored(regex.source)})" for regex in regexes)
    combined._compiled = _compile(pattern, combined.source)
    return combined


def _compile(pattern: str, source: str) -> re2._Regexp:
    try:
        return re2.compile(go_string(pattern), _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "invalid"
        raise RegexError(f"RE2 refuses {source!r}: {_clean(reason, source)}") from None


def _clean(reason: str, source: str) -> str:
    """RE2 names the anchored pattern in some errors (``missing ): ^(?:a$``): name the user's."""
    return reason.replace(anchored(source), source)


def _refuse_any_byte(source: str) -> None:
    """Go refuses ``\\C`` (C++ RE2 reads it as "any byte"); ``\\Q...\\E`` quotes it."""
    position = 0
    while position < len(source) - 1:
        if source[position] != "\\":
            position += 1
            continue
        escaped = source[position + 1]
        if escaped == "C":
            raise RegexError(f"RE2 refuses {source!r}: invalid escape sequence: \\C")
        if escaped == "Q":
            end = source.find("\\E", position + 2)
            position = len(source) if end < 0 else end + 2
            continue
        position += 2
