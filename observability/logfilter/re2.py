"""Run Cloud Logging's RE2 patterns on Python's ``re``.

RE2 and ``re`` agree on most syntax, and a filter that works here must also work in
Cloud Logging, so constructs RE2 rejects (backreferences, lookaround, atomic groups,
possessive quantifiers, conditionals, ``(?#...)`` comments) are rejected here too.
RE2 spellings ``re`` lacks are translated: ``(?<name>``, ``\\z``, ``\\Q...\\E``,
``\\x{...}`` and POSIX classes such as ``[[:alpha:]]``. Where the two differ in
meaning the translation follows RE2: ``\\d``, ``\\w`` and ``\\s`` are ASCII-only, and
``$`` (outside multi-line mode) matches only at the very end of the text.

Known, accepted gaps: ``\\b`` and negated classes inside brackets (``[\\D]``) keep
Python's Unicode meaning; ``\\p{...}`` classes and the ``U`` flag are rejected; and
``re`` backtracks, so a pathological pattern can be slow where RE2 is linear.
"""

from __future__ import annotations

import re


class RegexError(ValueError):
    """A pattern RE2 would reject, or one this translation cannot run; ``offset`` in it."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


_PERL_CLASSES = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_FLAG_CHARS = frozenset("imsU-")
_COUNTED_REPEAT = re.compile(r"\{\d+(?:,\d*)?\Z")  # "x{2" before a "}" that ends it


def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern for ``search`` (unanchored, case-sensitive, like Logging)."""
    translated = _translate(pattern)
    try:
        return re.compile(translated)
    except re.error as exc:
        raise RegexError(f"invalid regular expression: {exc.msg}", 0) from None
    except (OverflowError, RecursionError, ValueError) as exc:
        raise RegexError(f"invalid regular expression: {exc}", 0) from None


def _translate(pattern: str) -> str:
    multiline = bool(re.search(r"\(\?[imsU]*m", pattern))
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    class_start = 0  # index in ``out`` just after "[" or "[^"
    while i < n:
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i, in_class)
            out.append(text)
            continue
        if in_class:
            if c == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end != -1:
                    name = pattern[i + 2 : end]
                    if name.startswith("^"):
                        raise RegexError(f"negated class [:{name}:] is not supported", i)
                    if name not in _POSIX_CLASSES:
                        raise RegexError(f"invalid character class [:{name}:]", i)
                    out.append(_POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if c == "]" and len(out) > class_start:
                in_class = False
            elif c in "[&~|":
                c = "\\" + c  # literal in RE2; unescaped, Python warns about set operations
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append("[")
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):  # "]" first in a class is a literal
                out.append("\\]")
                i += 1
            class_start = len(out)
            continue
        if c == "(" and pattern.startswith("(?", i):
            text, i = _group_opening(pattern, i)
            out.append(text)
            continue
        if c == "$" and not multiline:
            out.append(r"\Z")
            i += 1
            continue
        if pattern.startswith("+", i + 1) and (
            c in "*+?" or (c == "}" and _COUNTED_REPEAT.search("".join(out)))
        ):
            raise RegexError("possessive quantifiers are not supported by RE2", i + 1)
        out.append(c)
        i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at ``i``; return (text, index after it)."""
    if i + 1 >= len(pattern):
        raise RegexError("trailing backslash", i)
    e = pattern[i + 1]
    if e in "123456789":
        raise RegexError("backreferences are not supported by RE2", i)
    if e in "pP":
        raise RegexError(f"Unicode classes \\{e}{{...}} are not supported", i)
    if e in "CZ":
        raise RegexError(f"\\{e} is not supported by RE2", i)
    if e == "z":
        return ("z" if in_class else r"\Z"), i + 2
    if e == "Q":
        end = pattern.find("\\E", i + 2)
        literal = pattern[i + 2 :] if end == -1 else pattern[i + 2 : end]
        escaped = re.escape(literal)
        return escaped, (len(pattern) if end == -1 else end + 2)
    if e == "x" and pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 3)
        digits = pattern[i + 3 : end] if end != -1 else ""
        if not digits or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise RegexError("bad \\x{...} escape", i)
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise RegexError("\\x{...} escape is not a Unicode character", i)
        return f"\\U{code:08x}", end + 1
    lower = e.lower()
    if lower in _PERL_CLASSES:
        chars = _PERL_CLASSES[lower]
        if in_class:
            # Inside a class only the positive forms can be spelled out.
            return (chars if e == lower else "\\" + e), i + 2
        return (f"[{chars}]" if e == lower else f"[^{chars}]"), i + 2
    return pattern[i : i + 2], i + 2


def _group_opening(pattern: str, i: int) -> tuple[str, int]:
    """Check/translate the ``(?...`` at ``i``; return (text, index after the opening)."""
    rest = pattern[i + 2 : i + 4]
    if rest.startswith("P<"):
        return "(?P<", i + 4
    if rest.startswith(("P=", "P>")):
        raise RegexError("named backreferences are not supported by RE2", i)
    if rest.startswith(("<=", "<!", "=", "!")):
        raise RegexError("lookaround assertions are not supported by RE2", i)
    if rest.startswith("<"):
        return "(?P<", i + 3  # RE2 also accepts (?<name>...)
    if rest.startswith(":"):
        return "(?:", i + 3
    if rest.startswith(">"):
        raise RegexError("atomic groups are not supported by RE2", i)
    if rest.startswith("("):
        raise RegexError("conditional groups are not supported by RE2", i)
    if rest.startswith("#"):
        raise RegexError("(?#...) comments are not supported by RE2", i)
    j = i + 2
    while j < len(pattern) and pattern[j] in _FLAG_CHARS:
        j += 1
    flags = pattern[i + 2 : j]
    if not flags or j >= len(pattern) or pattern[j] not in ":)":
        raise RegexError("invalid or unsupported group flags", i)
    if "U" in flags:
        raise RegexError("the U (ungreedy) flag is not supported", i)
    return pattern[i : j + 1], j + 1
