"""The literal text every match of an RE2 pattern contains: a cheap "no" before RE2 is asked.

A call into RE2's Python binding costs about 1 µs whatever the text; Python's ``in`` on a
short text costs a few tens of nanoseconds. Most texts a filter's regex is asked about do not
match, and most patterns spell out a run of characters that any match contains
(``task_failed in dag_`` and ``, entry `` in ``^task_failed in dag_\\d+, entry \\d+$``). A text
without that run cannot match, so RE2 need not be asked; a text with it still goes to RE2,
which alone decides a match. A pattern that is nothing but literal characters (``timeout``) is
decided by ``in`` itself: for a literal, "found anywhere in the text" is exactly RE2's
unanchored search, character for character (a pattern is compiled UTF-8, case-sensitive, and
UTF-8 never puts one character's bytes inside another's).

The reading is conservative, with RE2's syntax rules in mind, and only proves, never guesses:
it reads the top-level concatenation of a pattern RE2 has already accepted and keeps a
character only when it is certainly a literal that certainly takes part in every match. It
keeps nothing from groups, classes or ``.``; drops a literal a quantifier applies to; stops at
a top-level ``(?i)``; and gives up (no prefilter) on a top-level alternation, a ``{`` that is
not a repetition, POSIX classes, and escapes whose extent it does not check (``\\p``, ``\\x``,
octal, ``\\Q...\\E``, ``\\C``).
"""

from __future__ import annotations

import re
import string
from typing import Final, NamedTuple

# After a backslash, any ASCII character other than a letter, a digit or "_" is itself (RE2).
_QUOTED_PUNCTUATION: Final = frozenset(string.punctuation) - {"_"}
# Escapes of one letter that never add a literal to the run: classes, assertions, controls.
_SINGLE_LETTER_ESCAPES: Final = frozenset("dDwWsSbBAzafnrtv")
_QUANTIFIERS: Final = frozenset("*+?")
_REPETITION: Final = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")  # RE2's {n}, {n,}, {n,m}
_FLAGS: Final = re.compile(r"\(\?([imsU-]*)([:)])")


class RequiredText(NamedTuple):
    """What a pattern's matches certainly contain."""

    run: str  # the longest literal run found in every match
    exact: bool  # the pattern is this run and nothing else: finding the run is the match


class _Unsure(Exception):
    """A construct this reading does not take apart: no prefilter for the pattern."""


def required_text(pattern: str) -> RequiredText | None:
    """The longest literal run any match of ``pattern`` (accepted by RE2) contains, or None
    when no run is certain."""
    try:
        runs, exact = _top_level_runs(pattern)
    except _Unsure:
        return None
    longest = max(runs, key=len, default="")
    if exact or longest:
        return RequiredText(longest, exact)
    return None


def _top_level_runs(pattern: str) -> tuple[list[str], bool]:
    """The runs of literal characters of the top-level concatenation, and whether the pattern
    is one such run (raises ``_Unsure`` when the pattern cannot be read with certainty)."""
    runs: list[str] = []
    run: list[str] = []
    depth = 0  # open groups: what is inside one is never kept
    folded = False  # a top-level (?i) was seen: later characters match either case
    exact = True
    last_is_literal = False  # the previous atom is the last character of ``run``
    position = 0
    while position < len(pattern):
        char = pattern[position]
        literal: str | None = None
        if char == "\\":
            escaped = pattern[position + 1 : position + 2]
            if escaped and escaped in _QUOTED_PUNCTUATION:
                literal = escaped
            elif not escaped or escaped not in _SINGLE_LETTER_ESCAPES:
                raise _Unsure
            position += 2
        elif char == "[":
            position = _class_end(pattern, position)
        elif char == "(":
            flags = _FLAGS.match(pattern, position)
            if flags and flags.group(2) == ")":
                # (?i) and the like open no group and are no atom: in "a(?i)*" the star
                # applies to "a", so the run and what a quantifier would drop stay as they are.
                if depth == 0 and "i" in flags.group(1).partition("-")[0]:
                    folded = True
                position = flags.end()
                exact = False
                continue
            else:
                depth += 1
                position += 1
        elif char == ")":
            depth -= 1
            position += 1
        elif char == "|":
            if depth == 0:
                raise _Unsure  # either side may match alone
            position += 1
        elif char in _QUANTIFIERS or char == "{":
            if char == "{":
                repetition = _REPETITION.match(pattern, position)
                if repetition is None:
                    raise _Unsure  # a literal "{" to RE2; not worth the rules
                position = repetition.end()
            else:
                position += 1
            if depth == 0 and last_is_literal:
                run.pop()  # optional or repeated: not certainly there, not once
        elif char in ".^$]}":
            position += 1  # "]" and "}" are literals to RE2, kept out to stay simple
        else:
            literal = char
            position += 1
        if literal is not None and depth == 0 and not folded:
            run.append(literal)
            last_is_literal = True
            continue
        exact = False
        last_is_literal = False
        if run:
            runs.append("".join(run))
            run = []
    if run:
        runs.append("".join(run))
    return runs, exact and depth == 0


def _class_end(pattern: str, start: int) -> int:
    """The position after the class ``[...]`` opening at ``start``."""
    position = start + 1
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):
        position += 1  # a "]" first in a class is one of its characters
    while position < len(pattern):
        char = pattern[position]
        if char == "]":
            return position + 1
        if char == "\\":
            position += 2
        elif pattern.startswith("[:", position):
            raise _Unsure  # [:alpha:] has its own closing bracket
        else:
            position += 1
    raise _Unsure
