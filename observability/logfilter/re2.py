"""Cloud Logging's and Cloud Monitoring's regular expressions: RE2 itself, not an imitation.

Both APIs promise RE2 syntax and semantics (``=~``/``!~`` in a Logging filter,
``REGEXP_EXTRACT`` in a log-based metric, ``monitoring.regex.full_match`` in a Monitoring
filter). RE2 runs in time linear in the text, so no pattern a user writes can stall the
emulator the way a backtracking engine does on ``^(a+)+$``; and what RE2 refuses
(backreferences, lookaround, possessive quantifiers...) is refused here with RE2's own
message, what it accepts (``\\pL``, ``(?U)``, ``[[:^alpha:]]``...) is accepted.

The engine is Google's binding, ``google-re2``. Its ``re``-like ``search`` builds a match
object through a generator and maps byte offsets back to characters, which measured several
times the cost of the match itself on the short strings filters test; filters only need a
yes/no or one group's text, so ``Regex`` calls the compiled RE2 object (the binding's
``_re2.RE2``, the C++ class) directly. Texts and patterns are UTF-8; a lone surrogate
(possible in a JSON string) is passed through as its bytes, which no pattern character
matches, rather than raising.

Even so, one call into the binding costs about twenty dictionary lookups, several times
Python's ``re`` on a short text. The fields filters test by regex repeat across entries
(log names, resource types, event kinds, DAG ids), so each ``Regex`` remembers its yes/no
for the last few hundred short texts it saw: repeated values cost a lookup, and the memory
stays bounded (``_MEMO_ENTRIES`` texts of at most ``_MEMO_TEXT_CHARS`` characters). A pattern
whose texts do not repeat (under a quarter of a full memo's answers reused) stops
remembering: there the memo cost as much again as the match.

Before RE2 is called, a text is checked for the literal run every match contains
(``required_literals``): without it the answer is no; a pattern that is only that run is
answered by ``in`` (or ``==`` for a whole-text match). A text that holds the run usually
matches, so it is asked first of an RE2 set of the one pattern, a yes/no cheaper than
``Match``'s span; a "no" is asked again of ``Match`` (see ``_yes_only``). On texts that never
repeat (a message tested by ``=~``) this brings the cost near Python's ``re`` (bench/emulator.py).
"""

from __future__ import annotations

from typing import Any, Final

import re2
from re2 import _re2

from observability.logfilter.required_literals import required_text


class RegexError(ValueError):
    """A pattern RE2 refuses; the message is RE2's, prefixed with what failed."""


def _options(*, capture: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.never_capture = not capture
    return options


_TEST_OPTIONS: Final = _options(capture=False)
_CAPTURE_OPTIONS: Final = _options(capture=True)
_UNANCHORED: Final = _re2.RE2.Anchor.UNANCHORED
_ANCHOR_BOTH: Final = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH: Final = (-1, -1)
_MEMO_ENTRIES: Final = 256
_MEMO_TEXT_CHARS: Final = 128


class _NeverYes:
    """Stands for an RE2 set that could not be built: every text goes to ``Match``."""

    @staticmethod
    def Match(data: bytes) -> list[int]:  # the binding's name
        return []


_NEVER_YES: Final = _NeverYes()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _compiled(encoded: bytes, options: Any) -> Any:
    compiled = _re2.RE2(encoded, options)
    if not compiled.ok():
        reason = compiled.error()  # names the offending part: "missing ]: [a"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(f"invalid regular expression (RE2 syntax): {reason}")
    return compiled


class Regex:
    """One compiled RE2 pattern, case-sensitive unless it says ``(?i)``.

    ``search`` and ``fullmatch`` answer yes/no with a capture-free program (RE2 then needs
    no submatch pass); ``extract`` uses a second, capturing one, built on first use.
    """

    __slots__ = (
        "_capture",
        "_encoded",
        "_exact",
        "_found",
        "_quick",
        "_required",
        "_reused",
        "_test",
        "pattern",
    )

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._encoded = _encode(pattern)
        self._test = _compiled(self._encoded, _TEST_OPTIONS)
        self._capture: Any = None
        required = required_text(pattern)
        # A text without ``_required`` cannot match; with ``_exact``, one with it does.
        self._required = required.run if required else None
        self._exact = required is not None and required.exact
        # (text, whole) -> answer; nothing to remember when ``in`` is the whole answer
        self._found: dict[tuple[str, bool], bool] | None = None if self._exact else {}
        self._reused = 0  # answers the memo gave since it was last emptied
        self._quick: list[Any] = [None, None]  # _yes_only's sets: search, whole, on first use

    @property
    def groups(self) -> int:
        """How many capturing groups the pattern has."""
        count: int = self._capturing().NumberOfCapturingGroups()
        return count

    def _capturing(self) -> Any:
        if self._capture is None:
            self._capture = _compiled(self._encoded, _CAPTURE_OPTIONS)
        return self._capture

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (how Logging's ``=~`` tests)."""
        # Written out here and in fullmatch: a shared helper would add a Python call to every
        # text. The literal check comes first: it costs less than the memo's lookup.
        required = self._required
        if required is not None:
            if required not in text:
                return False
            if self._exact:
                return True
        memo = self._found
        if memo is not None:
            known = memo.get((text, False))
            if known is not None:
                self._reused += 1
                return known
        return self._test_text(text, False)

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches all of ``text`` (how Monitoring's ``=~`` tests)."""
        required = self._required
        if required is not None:
            if required not in text:
                return False
            if self._exact:
                return text == required
        memo = self._found
        if memo is not None:
            known = memo.get((text, True))
            if known is not None:
                self._reused += 1
                return known
        return self._test_text(text, True)

    def _test_text(self, text: str, whole: bool) -> bool:
        memo = self._found
        data = _encode(text)
        if self._required is not None and self._yes_only(whole).Match(data):
            found = True  # RE2's DFA found a match: certain, and cheaper than Match's span
        else:
            anchor = _ANCHOR_BOTH if whole else _UNANCHORED
            found = self._test.Match(anchor, data, 0, len(data))[0] != _NO_MATCH
        if memo is not None and len(text) <= _MEMO_TEXT_CHARS:
            if len(memo) >= _MEMO_ENTRIES:
                if self._reused < _MEMO_ENTRIES // 4:
                    # Texts that do not repeat (a message, an id): the memo would only add
                    # its cost to every call (measured: about as much as the match itself).
                    self._found = None
                    return found
                memo.clear()  # start over rather than track recency per call
                self._reused = 0
            memo[text, whole] = found
        return found

    def _yes_only(self, whole: bool) -> Any:
        """An RE2 set of this one pattern: its ``Match`` is a yes/no with no span, so about
        0.6 of ``Match``'s cost; its "yes" is certain, but its "no" is not (when its DFA runs
        out of memory it answers no, and the binding drops RE2's error), so a "no" is asked
        again of ``Match``. Used behind the literal check, where most texts left match."""
        quick = self._quick[whole]
        if quick is None:
            quick = _re2.Set(_ANCHOR_BOTH if whole else _UNANCHORED, _TEST_OPTIONS)
            if quick.Add(self._encoded) < 0 or not quick.Compile():
                quick = _NEVER_YES
            self._quick[whole] = quick
        return quick

    def extract(self, text: str) -> str | None:
        """The first group's text in the first match, or None (no match, or group unset)."""
        if self._required is not None and self._required not in text:
            return None
        data = _encode(text)
        spans = self._capturing().Match(_UNANCHORED, data, 0, len(data))
        if len(spans) < 2 or spans[1] == _NO_MATCH:
            return None
        start, end = spans[1]
        return data[start:end].decode("utf-8", "replace")


def compile_re2(pattern: str) -> Regex:
    """Compile an RE2 pattern; raises ``RegexError`` with RE2's reason if it refuses it."""
    return Regex(pattern)
