"""Alertmanager's language, case by case (its own tests' cases and the ones issue 17 found) and
by property: matcher strings, RE2 regexes, time intervals, configuration verdicts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observability.router.config import ConfigError, load_config
from observability.router.matcher import Matcher, MatcherError, MatchType, parse_matchers
from observability.router.matcher.gostring import UnquoteError, quote, unquote
from observability.router.timeinterval import TimeInterval


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # From Alertmanager's matcher/compat tests (its default, "fallback", mode):
        ("foo=bar", [("foo", "=", "bar")]),
        ("foo🙂=bar", [("foo🙂", "=", "bar")]),  # UTF-8 parser only
        ("foo=!bar\\n", [("foo", "=", "!bar\n")]),  # classic parser only
        ('foo="\\xf0\\x9f\\x99\\x82"', [("foo", "=", "\\xf0\\x9f\\x99\\x82")]),  # they disagree
        ("{foo=!bar,bar=$baz\\n}", [("foo", "=", "!bar"), ("bar", "=", "$baz\n")]),
        # Issue 17's cases:
        ("foo=bar\\\\", [("foo", "=", "bar\\")]),
        ('foo=\\"', [("foo", "=", '"')]),
        ("{foo=bar}}", [("foo", "=", "bar}")]),
        ('foo="\\U0001f642"', [("foo", "=", "\\U0001f642")]),  # classic's reading wins
        ('"foo bar"="\\U0001f642\\t"', [("foo bar", "=", "🙂\t")]),  # UTF-8 only: decoded
        ('"x"="\\xf0\\x9f\\x99\\x82"', [("x", "=", "🙂")]),
        ('"foo!"!="bar"', [("foo!", "!=", "bar")]),
        ('alertname=~"(?i)disk.*"', [("alertname", "=~", "(?i)disk.*")]),
        ("", []),
        ("{}", []),
        ('{a="1"', [("a", "=", "1")]),  # classic trims the lone brace
    ],
)
def test_matcher_strings_read_as_alertmanager_reads_them(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert [(m.name, m.type.value, m.value) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        '"foo"="\\q"',  # an invalid Go escape, and the classic parser cannot read a quoted name
        '"foo"="\\xff"',  # decodes to invalid UTF-8
        '"a"="\\ud800"',  # a surrogate is not a code point
        "foo!bar",
        'a=~"(a)\\1"',  # backreference
        'a=~"a(?=b)"',  # lookahead
        'a=~"a*+"',  # possessive
        'a=~"\\C"',  # any byte: C++ RE2 has it, Go's refuses it
        'a=~"a{1001}"',
    ],
)
def test_what_alertmanager_refuses_is_refused(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


@pytest.mark.parametrize(
    ("regex", "value", "matches"),
    [
        ("(?i)disk.*", "DISK_FULL", True),
        ("(?s)foo.bar", "foo\nbar", True),
        ("foo.bar", "foo\nbar", False),
        ("a|b", "ab", False),  # anchored around the whole alternation
        ("a)|(b", "xb", True),  # concatenated as Go does: ^(?:a)|(b)$
        ("\\Q\\C\\E", "\\C", True),  # quoted, \C is literal
        ("(?i:CRIT).*", "critical", True),
    ],
)
def test_regexes_are_re2_anchored_as_alertmanager_anchors_them(
    regex: str, value: str, matches: bool
) -> None:
    assert Matcher.of("x", MatchType.REGEX, regex).matches({"x": value}) is matches


def test_a_backtracking_pattern_runs_in_linear_time() -> None:
    matcher = Matcher.of("x", MatchType.REGEX, "(a+)+$")
    started = time.perf_counter()
    assert not matcher.matches({"x": "a" * 5000 + "b"})
    assert time.perf_counter() - started < 0.5


def test_a_lone_surrogate_in_a_label_matches_as_go_sees_it() -> None:
    assert Matcher.of("x", MatchType.REGEX, "a.b").matches({"x": "a\ud800b"})


label_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=400, deadline=None)
@given(name=label_text, kind=st.sampled_from(list(MatchType)), value=label_text)
def test_any_printed_matcher_parses_back_to_itself(name: str, kind: MatchType, value: str) -> None:
    try:
        matcher = Matcher.of(name, kind, value)
    except MatcherError:
        return  # a value RE2 refuses is no regex matcher at all
    assert parse_matchers(str(matcher)) == [matcher]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_go_quoting_round_trips(text: str) -> None:
    assert unquote(quote(text)) == text


@pytest.mark.parametrize(
    ("literal", "decoded"),
    [('"\\t\\x41\\101\\u00e9\\U0001f642"', "\tAAé🙂"), ('"\\a\\b\\f\\v\\\\\\""', '\a\b\f\v\\"')],
)
def test_go_escapes(literal: str, decoded: str) -> None:
    assert unquote(literal) == decoded


@pytest.mark.parametrize("literal", ['"\\\'"', '"\\400"', '"\\x4"', '"a\nb"', '"\\uD800"'])
def test_go_refuses(literal: str) -> None:
    with pytest.raises(UnquoteError):
        unquote(literal)


@pytest.mark.parametrize(
    ("interval", "error"),
    [
        ({"times": [{"start_time": "22:00", "end_time": "06:00"}]}, "start time cannot be"),
        ({"times": [{"start_time": "17:31", "end_time": "17:31"}]}, "start time cannot be"),
        ({"times": [{"start_time": "24:00", "end_time": "17:41"}]}, "start time cannot be"),
        ({"times": [{"start_time": "7:00", "end_time": "08:00"}]}, "invalid format"),
        ({"times": [{"start_time": "07:00"}]}, "both start and end"),
        ({"days_of_month": ["-15:5"]}, "end day must be negative"),
        ({"days_of_month": ["10:-25"]}, "always before start day"),
        ({"days_of_month": ["0"]}, "out of range"),
        ({"weekdays": ["friday:monday"]}, "start day cannot be before end day"),
        ({"weekdays": ["mon"]}, "not a valid weekday"),
        ({"months": ["december:january"]}, "before start month"),
        ({"years": ["2030:2020"]}, "before start year"),
    ],
)
def test_time_intervals_alertmanager_refuses(interval: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        TimeInterval.model_validate(interval)


def test_time_intervals_alertmanager_accepts() -> None:
    # Numbers as YAML numbers, a month past December (never holds), 24:00 as an end.
    interval = TimeInterval.model_validate(
        {
            "days_of_month": [1, "-3:-1"],
            "months": [13, "1:12"],
            "times": [{"start_time": "22:00", "end_time": "24:00"}],
        }
    )
    assert interval.days_of_month == ["1", "-3:-1"]


BASE = "receivers: [{name: r0}]\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("route: {receiver: r0, continue: true}\n" + BASE, ":1: route.continue: cannot have"),
        ("route: {receiver: r0, group_by: [a, b, a]}\n" + BASE, ":1: route.group_by.2: dupl"),
        (
            "global:\n  smtp_auth_password: x\n  smtp_auth_password_file: pw\n"
            "route: {receiver: r0}\n" + BASE,
            ":3: global.smtp_auth_password_file: at most one of smtp_auth_password & ",
        ),
        (
            "route: {receiver: r0}\nreceivers:\n  - name: r0\n    slack_configs:\n"
            "      - api_url: http://x\n        api_url_file: url\n",
            ":6: receivers.0.slack_configs.0.api_url_file: at most one of api_url & api_url_file",
        ),
        (
            "route:\n  receiver: r0\n  routes:\n    - matchers: ['a=~\"(a)\\\\1\"']\n" + BASE,
            ":4: route.routes.0.matchers: invalid regex for a: RE2 refuses",
        ),
        (
            "route: {receiver: r0}\n" + BASE + "time_intervals:\n  - name: night\n"
            "    time_intervals:\n      - times: [{start_time: 22:00, end_time: 06:00}]\n",
            ":6: time_intervals.0.time_intervals.0.times.0: start time cannot be equal",
        ),
    ],
)
def test_check_config_refuses_as_alertmanager_does(text: str, error: str, tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(str(path)) and error in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "route: {receiver: r0}\n" + BASE + "inhibit_rules: [null]\n",
        "global:\nroute: {receiver: r0}\n" + BASE,
        "route:\n  receiver: r0\n  routes:\n    - matchers: ['alertname=~\"(?i)disk.*\"']\n" + BASE,
        "route: {receiver: r0}\n" + BASE + "time_intervals:\n  - name: n\n    time_intervals:\n"
        "      - {days_of_month: [1:5, 15], months: [1:3], weekdays: [monday:friday]}\n",
    ],
)
def test_check_config_accepts_as_alertmanager_does(text: str, tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(text)
    load_config(path)


def test_unquoted_ranges_are_text_not_base_60(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(
        "route: {receiver: r0}\n" + BASE + "time_intervals:\n  - name: n\n    time_intervals:\n"
        "      - {days_of_month: [1:5], times: [{start_time: 09:00, end_time: 17:30}]}\n"
    )
    [interval] = load_config(path).time_intervals["n"]
    assert interval.days_of_month == ["1:5"] and interval.times[0].end_time == "17:30"
