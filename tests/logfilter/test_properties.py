"""Property tests: arbitrary input never escapes as anything but FilterError, and the
boolean structure behaves as the language defines it."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observability.logfilter import FilterError, compile_filter, parse_filter
from tests.logfilter.entries import ENTRIES

TIME_BOUND_S = 0.5  # per filter: compiling it and testing it on every entry or text
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = [
    "severity",
    "timestamp",
    "resource.type",
    "resource.labels.environment_name",
    'labels."task-id"',
    "logName",
    "textPayload",
    "httpRequest.status",
    "httpRequest.latency",
    "jsonPayload.event_type",
    "jsonPayload.try_number",
    "jsonPayload.tags",
    "jsonPayload.exception",
    "jsonPayload.exception.message",
    "jsonPayload.owner",
    "jsonPayload.nothing",
    "protoPayload.methodName",
    "json_payload.dag_id",
]
OPERATORS = ["=", "!=", "<", "<=", ">", ">=", ":", "=~", "!~"]
VALUES = [
    '"task_failed"',
    "ERROR",
    "500",
    "-5",
    "1.5e3",
    '"2026-11-23T10:00:00Z"',
    '"2026-11-23"',
    "true",
    "NULL_VALUE",
    '"refused"',
    '"Z\\u00fcrich"',
    '"a.*b"',
    '"("',
    '""',
    '"0.25s"',
]
FUNCTIONS = [
    'log_id("airflow-worker")',
    'SEARCH("refused")',
    'SEARCH(jsonPayload.exception, "`refused by`")',
    "sample(insertId, 0.5)",
    'ip_in_net(httpRequest.remoteIp, "10.0.0.0/8")',
    "source(projects/acme-data)",
]

comparisons = st.builds(
    lambda field, op, value: f"{field}{op}{value}",
    st.sampled_from(FIELDS),
    st.sampled_from(OPERATORS),
    st.sampled_from(VALUES),
)
presence = st.sampled_from(FIELDS).map(lambda field: f"{field}:*")
globals_ = st.sampled_from(["refused", '"Connection refused"', "snowflake", "1500", "and"])
leaves = st.one_of(comparisons, presence, globals_, st.sampled_from(FUNCTIONS))

well_formed = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} AND {b}", inner, inner),
        st.builds(lambda a, b: f"{a} OR {b}", inner, inner),
        st.builds(lambda a, b: f"{a} {b}", inner, inner),
        inner.map(lambda a: f"NOT {a}"),
        inner.map(lambda a: f"-({a})" if a.startswith("-") else f"-{a}"),  # "--" is a comment
        inner.map(lambda a: f"({a})"),
    ),
    max_leaves=6,
)

# Grammar-ish noise: real tokens in random order, plus stray characters.
TOKENS = [
    *FIELDS,
    *OPERATORS,
    *VALUES,
    *FUNCTIONS,
    "AND",
    "OR",
    "NOT",
    "-",
    "(",
    ")",
    "*",
    ",",
    ".",
    '"',
    "--",
    "\n",
    "\\",
    "!",
    "~",
    "cast(",
    "regexp_extract(",
    "TIMEZONE(",
    "`",
]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)
glued_soup = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)


def _evaluate_everywhere(text: str) -> dict[str, bool]:
    compiled = compile_filter(text)
    results = {name: compiled.matches(entry) for name, entry in ENTRIES.items()}
    assert all(isinstance(result, bool) for result in results.values())
    return results


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_filter_error(text: str) -> None:
    started = time.perf_counter()
    try:
        parse_filter(text)
        _evaluate_everywhere(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)
        assert str(error)
    assert time.perf_counter() - started < TIME_BOUND_S


@FAST
@given(st.one_of(token_soup, glued_soup))
def test_token_soup_raises_only_filter_error(text: str) -> None:
    try:
        _evaluate_everywhere(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)


@FAST
@given(well_formed)
def test_well_formed_filters_evaluate(text: str) -> None:
    try:
        results = _evaluate_everywhere(text)
    except FilterError as error:  # only type errors such as a regex on a number field
        assert "regular expression" in error.message or "can only be tested" in error.message
        return
    negated = _evaluate_everywhere(f"NOT ({text})")
    assert negated == {name: not result for name, result in results.items()}


@FAST
@given(well_formed, well_formed, well_formed)
def test_and_binds_looser_than_or(a: str, b: str, c: str) -> None:
    try:
        implicit = _evaluate_everywhere(f"({a}) ({b}) OR ({c})")
    except FilterError:
        return
    explicit = _evaluate_everywhere(f"({a}) AND (({b}) OR ({c}))")
    assert implicit == explicit


@FAST
@given(
    st.sampled_from(FIELDS),
    st.sampled_from(["=", ":"]),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=4),
)
def test_parenthesized_values_distribute(field: str, op: str, values: list[str]) -> None:
    grouped = f"{field}{op}({' OR '.join(values)})"
    spelled_out = " OR ".join(f"{field}{op}{value}" for value in values)
    expected: dict[str, Any] | None
    try:
        expected = _evaluate_everywhere(spelled_out)
    except FilterError:
        expected = None
    if expected is None:
        try:
            _evaluate_everywhere(grouped)
        except FilterError:
            return
        raise AssertionError(f"{grouped!r} compiled but {spelled_out!r} did not")
    assert _evaluate_everywhere(grouped) == expected


# Patterns built from regex syntax: nested quantifiers and alternations that make a
# backtracking engine take exponential time on the texts below.
REGEX_PIECES = ["a", "b", ".", "+", "*", "?", "|", "(", ")", "(?:", "{2,}", "^", "$", "\\", "[a-]"]
regexes = st.one_of(
    st.lists(st.sampled_from(REGEX_PIECES), max_size=20).map("".join),
    st.text(max_size=30),
)
HOSTILE_TEXTS = ["a" * 40 + "!", "ab" * 30 + "c", "a" * 5000, ""]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@FAST
@given(regexes, st.sampled_from(["=~", "!~"]))
def test_any_regex_gives_a_result_or_filter_error_in_bounded_time(pattern: str, op: str) -> None:
    started = time.perf_counter()
    try:
        compiled = compile_filter(f"jsonPayload.message{op}{_quoted(pattern)}")
    except FilterError as error:
        assert "regular expression" in error.message
    else:
        for text in HOSTILE_TEXTS:
            assert isinstance(compiled.matches({"jsonPayload": {"message": text}}), bool)
    assert time.perf_counter() - started < TIME_BOUND_S


@FAST
@given(regexes)
def test_any_regexp_extract_gives_a_result_or_filter_error_in_bounded_time(pattern: str) -> None:
    started = time.perf_counter()
    try:
        compiled = compile_filter(f'regexp_extract(textPayload, {_quoted(pattern)}) = "a"')
    except FilterError:
        pass
    else:
        for text in HOSTILE_TEXTS:
            assert isinstance(compiled.matches({"textPayload": text}), bool)
    assert time.perf_counter() - started < TIME_BOUND_S
