"""The literal prefilter in front of RE2 never changes an answer: RE2 alone decides a match.

Patterns come from a grammar of RE2's syntax (literals, escapes, classes, groups, flags,
quantifiers, anchors, alternations), texts from pieces of the pattern and of the literal run
derived from it (in either case), Unicode, newlines and a lone surrogate. Each answer of
``Regex`` (which prefilters) is compared with RE2's own, called through the binding with no
prefilter in front.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from re2 import _re2

from observability.logfilter.re2 import RegexError, compile_re2
from observability.logfilter.required_literals import RequiredText, required_text

LITERALS = ["a", "b", "A", "ab", "task_failed", "entry ", "é", "λ", "😀", " ", ",", "\n", "0"]
LITERALS += ["-", "_", "]", "}", "#", "<", ">", ":", "\x00"]
ESCAPES = [r"\.", r"\\", r"\*", r"\(", r"\)", r"\[", r"\]", r"\{", r"\}", r"\|", r"\$", r"\^"]
ESCAPES += [r"\-", r"\ ", r"\d", r"\D", r"\w", r"\s", r"\b", r"\B", r"\A", r"\z", r"\n", r"\t"]
ESCAPES += [r"\pL", r"\p{Greek}", r"\PL", r"\x41", r"\x{e9}", r"\101", r"\0", r"\Qa.b\E"]
ESCAPES += [r"\Q(\E", r"\Q|\E", r"\C", r"\_", r"\é"]
CLASSES = ["[ab]", "[^a]", "[]a]", "[^]a]", "[a-c]", "[[:alpha:]]", "[[:^digit:]é]", r"[\]a]"]
CLASSES += [r"[\d.]", "[(]", "[|]", "[)]", "[[]", r"[\p{Greek}]", ".", "^", "$"]
FLAGS = ["(?i)", "(?s)", "(?m)", "(?U)", "(?-i)", "(?im)", "(?i-s)", "(?s-i)"]
OPENERS = ["(", "(?:", "(?P<g>", "(?i:", "(?s:", "(?-i:"]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,3}", "{0,}", "{0}", "*?", "+?", "??", "{2}?", "{", "{x}"]

ATOMS = st.sampled_from(LITERALS + ESCAPES + CLASSES + FLAGS)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    grouped = st.tuples(st.sampled_from(OPENERS), inner).map(lambda parts: f"{''.join(parts)})")
    quantified = st.tuples(inner, st.sampled_from(QUANTIFIERS)).map("".join)
    sequence = st.lists(inner, min_size=2, max_size=4).map("".join)
    alternatives = st.lists(inner, min_size=2, max_size=3).map("|".join)
    return st.one_of(grouped, quantified, sequence, alternatives)


PATTERNS = st.recursive(st.lists(ATOMS, max_size=6).map("".join), _compound, max_leaves=14)
OPTIONS: dict[bool, Any] = {}


def _re2_itself(pattern: str, *, capture: bool) -> Any:
    """The pattern compiled by the binding as ``Regex`` compiles it, with nothing in front."""
    if capture not in OPTIONS:
        options = _re2.RE2.Options()
        options.log_errors = False
        options.never_capture = not capture
        OPTIONS[capture] = options
    return _re2.RE2(pattern.encode("utf-8", "surrogatepass"), OPTIONS[capture])


def _texts(pattern: str, required: RequiredText | None) -> st.SearchStrategy[str]:
    run = required.run if required else ""
    pieces = [run, run.swapcase(), run[:-1], run[1:], "\ud800", "AB", "aab", "Ab", "\u00c9"]
    pieces += [pattern[start : start + size] for start in range(len(pattern)) for size in (1, 4)]
    return st.lists(st.sampled_from(pieces + LITERALS), max_size=8).map("".join)


def _answers(compiled: Any, text: str) -> tuple[bool, bool]:
    data = text.encode("utf-8", "surrogatepass")
    search = compiled.Match(_re2.RE2.Anchor.UNANCHORED, data, 0, len(data))[0] != (-1, -1)
    whole = compiled.Match(_re2.RE2.Anchor.ANCHOR_BOTH, data, 0, len(data))[0] != (-1, -1)
    return search, whole


def _first_group(compiled: Any, text: str) -> str | None:
    data = text.encode("utf-8", "surrogatepass")
    spans = compiled.Match(_re2.RE2.Anchor.UNANCHORED, data, 0, len(data))
    if len(spans) < 2 or spans[1] == (-1, -1):
        return None
    start, end = spans[1]
    return data[start:end].decode("utf-8", "replace")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=PATTERNS, data=st.data())
def test_prefilter_never_changes_re2s_answer(pattern: str, data: st.DataObject) -> None:
    reference = _re2_itself(pattern, capture=False)
    if not reference.ok():
        with pytest.raises(RegexError):
            compile_re2(pattern)
        return
    required = required_text(pattern)
    regex = compile_re2(pattern)
    capturing = _re2_itself(pattern, capture=True)
    for text in data.draw(st.lists(_texts(pattern, required), min_size=1, max_size=4)):
        search, whole = _answers(reference, text)
        if required is not None and search:
            assert required.run in text, (pattern, required, text)
        if required is not None and required.exact:
            assert search is (required.run in text), (pattern, text)
        assert regex.search(text) is search, (pattern, text)
        assert regex.fullmatch(text) is whole, (pattern, text)
        assert regex.extract(text) == _first_group(capturing, text), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (r"^task_failed in dag_\d+, entry \d+$", RequiredText("task_failed in dag_", False)),
        ("timeout", RequiredText("timeout", True)),
        (r"a\.b\\c", RequiredText("a.b\\c", True)),
        ("ab*cd", RequiredText("cd", False)),  # b may be absent, a and cd are not adjacent
        ("x{2}yz", RequiredText("yz", False)),
        ("(a|b)cde", RequiredText("cde", False)),
        ("abc(?i)de", RequiredText("abc", False)),  # de in any case after (?i)
        ("abc(?s)*def", RequiredText("def", False)),  # the star applies to c
        ("(?i:ab)cd", RequiredText("cd", False)),  # the flag stays in its group
        ("[]a]xyz", RequiredText("xyz", False)),
        ("(?P<n>x)yz", RequiredText("yz", False)),
        (r"(?s)a.b\dcd", RequiredText("cd", False)),
        ("a\nb", RequiredText("a\nb", True)),
    ],
)
def test_required_text(pattern: str, required: RequiredText) -> None:
    assert required_text(pattern) == required


@pytest.mark.parametrize(
    "pattern",
    ["a|bc", "(?i)abc", r"\pLabc", r"\x41bc", r"\Qabc\E", r"\101bc", "[[:alpha:]]bc", "x{", ""],
)
def test_no_prefilter_when_not_certain(pattern: str) -> None:
    required = required_text(pattern)
    assert required is None or (required.exact and required.run == "")
