"""Unit tests of the pieces: LogFilter, sampling, RE2, SEARCH tokens, values."""

from __future__ import annotations

import time

import pytest

from observability.logfilter import FilterError, LogFilter, compile_filter
from observability.logfilter.re2 import RegexError, compile_re2
from observability.logfilter.textsearch import tokens
from observability.logfilter.values import format_timestamp, parse_duration, timestamp_key
from tests.logfilter.entries import TASK_FAILED


def test_compile_filter_is_cached_and_callable() -> None:
    text = 'severity>=ERROR jsonPayload.dag_id="daily_sales"'
    compiled = compile_filter(text)
    assert compile_filter(text) is compiled
    assert isinstance(compiled, LogFilter)
    assert compiled.text == text
    assert compiled(TASK_FAILED) is compiled.matches(TASK_FAILED) is True
    assert repr(compiled) == f"LogFilter({text!r})"


def test_errors_are_not_cached_as_filters() -> None:
    for _ in range(2):
        with pytest.raises(FilterError):
            compile_filter("severity=")


def _sampled(fraction: float, count: int = 10_000) -> set[str]:
    sample = compile_filter(f"sample(insertId, {fraction})")
    ids = [f"insert-{i:06d}" for i in range(count)]
    return {i for i in ids if sample.matches({"insertId": i})}


def test_sample_is_deterministic_and_about_the_fraction() -> None:
    tenth = _sampled(0.1)
    assert _sampled(0.1) == tenth  # same entry, same answer
    assert 800 <= len(tenth) <= 1200
    half = _sampled(0.5)
    assert 4_500 <= len(half) <= 5_500
    assert tenth <= half  # a larger fraction keeps every entry a smaller one kept


def test_sample_of_numbers_and_defaults() -> None:
    everything = compile_filter("sample(jsonPayload.try_number, 1)")
    assert everything.matches(TASK_FAILED)
    assert not everything.matches({"jsonPayload": {"try_number": {"nested": 1}}})


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("foo", "a foo b", True),  # unanchored search
        ("^foo", "a foo", False),
        ("foo$", "foo\n", False),  # RE2 "$" is end of text only
        ("(?m)foo$", "foo\nbar", True),
        ("\\d+", "٣", False),  # RE2 \d is ASCII
        ("\\w+", "é", False),
        ("[\\d]", "7", True),
        ("\\D", "a", True),
        ("\\s", "\u00a0", False),
        ("(?P<n>a)b", "ab", True),
        ("(?<n>a)b", "ab", True),
        ("\\Qa.b\\E", "a.b", True),
        ("\\Qa.b\\E", "axb", False),
        ("\\Qa.b", "a.b", True),
        ("\\x{e9}", "é", True),
        ("[[:alpha:]]+[[:digit:]]", "abc1", True),
        ("[[:upper:]]", "abc", False),
        ("a\\z", "a", True),
        ("(?i)ABC", "abc", True),
        ("(?i:A)b", "ab", True),
        ("[]a]", "]", True),
        ("[^]a]", "]", False),
        ("[a&&b]", "&", True),
        ("x{2}", "xx", True),
        ("}+", "}}", True),
        ("a{2,3}?", "aaa", True),
        ("\\pL+", "é", True),  # RE2 accepts what Python's re lacks
        ("\\p{Greek}", "λ", True),
        ("\\p{Greek}", "l", False),
        ("[[:^alpha:]]", "a", False),
        ("[[:^alpha:]]", "1", True),
        ("(?U)a+", "aaa", True),
    ],
)
def test_re2_semantics(pattern: str, subject: str, matches: bool) -> None:
    assert compile_re2(pattern).search(subject) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=a)",
        "(?!a)",
        "(?<=a)",
        "(?<!a)",
        "(a)\\1",
        "(?P<n>a)(?P=n)",
        "(?>a)",
        "a*+",
        "a?+",
        "a{2}+",
        "(?(1)a|b)",
        "(?#comment)",
        "\\Z",
        "[[:nope:]]",
        "\\x{110000}",
        "\\x{zz}",
        "a\\",
        "(?q)",
        "[",
    ],
)
def test_re2_rejections(pattern: str) -> None:
    with pytest.raises(RegexError, match=r"invalid regular expression \(RE2 syntax\): "):
        compile_re2(pattern)


def test_catastrophic_backtracking_patterns_run_in_linear_time() -> None:
    """A backtracking engine takes minutes on these (2^42 paths); RE2 takes microseconds."""
    started = time.perf_counter()
    for pattern in ("^(a+)+$", "^(a|aa)+$", "^(a|a?)+$", "(x+x+)+y"):
        regex = compile_re2(pattern)
        assert not regex.search("a" * 42 + "b")
        assert not regex.fullmatch("x" * 5_000)
        assert regex.extract("a" * 100_000 + "!") is None
    assert time.perf_counter() - started < 1.0


def test_extract_and_fullmatch() -> None:
    assert compile_re2("é(.)").extract("xéλy") == "λ"  # offsets are characters, not bytes
    assert compile_re2("(x)?y").extract("y") is None  # the group took no part
    assert compile_re2("(?U)(a+)").extract("aaa") == "a"
    assert compile_re2("a.c").fullmatch("abc") and not compile_re2("a.c").fullmatch("abcd")
    assert compile_re2("(a)(b)").groups == 2
    regex = compile_re2("a+")  # the remembered answers of search and fullmatch stay apart
    assert [regex.search("ba"), regex.fullmatch("ba"), regex.search("ba")] == [True, False, True]
    texts = [f"{n}a" if n % 2 else str(n) for n in range(1000)]  # past what it remembers
    assert [regex.search(text) for text in texts * 2] == [n % 2 == 1 for n in range(1000)] * 2
    assert not compile_re2("a").search("\ud800")  # a lone surrogate is no error
    assert compile_re2("x").search("\ud800x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task_failed", ["task", "failed"]),
        (
            "Connection refused by warehouse.example.com:5432",
            ["connection", "refused", "by", "warehouse", "example", "com", "5432"],
        ),
        ("a%20b%2Cc", ["a", "b", "c"]),
        ("cloudaudit.googleapis.com%2Factivity", ["cloudaudit", "googleapis", "com", "2factivity"]),
        ("  ", []),
        ("Zürich", ["zürich"]),
    ],
)
def test_search_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00.000000000"),
        ("2026-11-23t10:00:00.5z", "2026-11-23T10:00:00.500000000"),
        ("2026-11-23T12:00:00.123456789123+02:00", "2026-11-23T10:00:00.123456789"),
        ("2026-11-23T00:30:00-01:00", "2026-11-23T01:30:00.000000000"),
        ("2026-11-23 10:00:00Z", "2026-11-23T10:00:00.000000000"),
        ("2026-02-30T10:00:00Z", None),
        ("2026-11-23T10:00:00", None),
        ("0001-01-01T00:30:00+01:00", None),
        ("yesterday", None),
    ],
)
def test_timestamp_key(text: str, key: str | None) -> None:
    assert timestamp_key(text) == key


def test_timestamp_key_dates_only_when_allowed() -> None:
    assert timestamp_key("2026-11-23") is None
    assert timestamp_key("2026-11-23", allow_date=True) == "2026-11-23T00:00:00.000000000"
    assert timestamp_key("2026-13-01", allow_date=True) is None


def test_format_timestamp() -> None:
    key = "2026-11-23T10:00:00.120000000"
    assert format_timestamp(key, None) == "2026-11-23T10:00:00.12Z"
    from zoneinfo import ZoneInfo

    assert format_timestamp(key, ZoneInfo("Asia/Kolkata")) == "2026-11-23T15:30:00.12+05:30"
    assert format_timestamp(key, ZoneInfo("UTC")) == "2026-11-23T10:00:00.12Z"


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("3.2s", 3_200_000_000),
        ("250ms", 250_000_000),
        ("-1h", -3_600_000_000_000),
        ("1µs", 1_000),
        ("5", None),
        ("1d", None),
    ],
)
def test_parse_duration(text: str, nanos: int | None) -> None:
    assert parse_duration(text) == nanos


def test_a_regex_stops_remembering_texts_that_do_not_repeat() -> None:
    """Answers stay right either way; only repeated texts keep the memo (its cost on texts
    seen once was about that of the match itself)."""
    repeated, distinct = compile_re2(r"^dag_4\d$"), compile_re2(r"entry \d+$")
    for i in range(2_000):
        assert repeated.search(f"dag_{i % 50}") is (40 <= i % 50 <= 49)
        assert distinct.search(f"task_failed, entry {i}") is True
        assert distinct.fullmatch(f"entry {i}") is True
    assert repeated._found is not None and distinct._found is None
