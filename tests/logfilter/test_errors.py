"""Malformed or unsupported filters: always a FilterError, at the right position."""

from __future__ import annotations

import pickle

import pytest

from observability.logfilter import FilterError, compile_filter, parse_filter

# (filter, expected position, fragment of the message)
MALFORMED: list[tuple[str, int, str]] = [
    ('resource.type="x")', 17, 'unexpected ")"'),
    ("(severity=ERROR", 15, "unexpected end of filter"),
    ("((a) OR (b)", 11, "unexpected end of filter"),
    ("severity=ERROR)", 14, 'unexpected ")"'),
    ("AND severity=ERROR", 0, "unexpected AND"),
    ("OR a", 0, "unexpected OR"),
    ("severity=ERROR AND", 18, "after AND"),
    ("severity=ERROR OR", 17, "after OR"),
    ("a AND OR b", 6, "unexpected OR"),
    ("a AND AND b", 6, "unexpected AND"),
    ("NOT", 3, "after NOT"),
    ("a -", 3, "after -"),
    ("severity=", 9, "expected a value"),
    ("severity=AND", 9, "expected a value"),
    ("jsonPayload.x = a = b", 18, 'unexpected "="'),
    ("a.b", 3, "comparison operator"),
    ("jsonPayload.=1", 12, "expected a field name"),
    ("jsonPayload.x.", 14, "expected a field name"),
    ('5="x"', 0, "a number cannot be a field name"),
    ("()", 1, "empty parentheses"),
    ("jsonPayload.x=()", 15, "empty parentheses"),
    ("severity=*", 9, '"*" is only allowed'),
    ("jsonPayload.x>*", 14, '"*" is only allowed'),
    ("*", 0, '"*" is only allowed'),
    ("jsonPayload.x:(*)", 15, '"*" is only allowed'),
    ('jsonPayload.message="unterminated', 20, "unterminated string"),
    ('"', 0, "unterminated string"),
    ('x="ends with backslash\\', 2, "unterminated string"),
    ('jsonPayload.x="\\u12"', 15, "hex digits"),
    ('jsonPayload.x="\\U00110000"', 15, "not a Unicode character"),
    ('"a" ! "b"', 4, 'unexpected "!"'),
    ("a ~ b", 2, 'unexpected "~"'),
    ('"a" \\ "b"', 4, "unexpected"),
    ("jsonPayload.x=1.5abc", 14, "malformed number"),
    ("jsonPayload.x=-abc", 14, "must be a number or be quoted"),
    ("jsonPayload.x=foo.bar", 17, 'quote values that contain "."'),
    ('jsonPayload.x=log_id("a")', 14, "cannot be a value"),
    ('foo("x")', 0, "unknown function foo()"),
    ("log_id()", 0, "takes 1 argument"),
    ('log_id("a", "b")', 0, "takes 1 argument"),
    ('SEARCH("a", "b", "c")', 0, "takes 1 to 2"),
    ('log_id("a"', 10, 'expected "," or ")"'),
    ("cast(jsonPayload.x, STRING) AND a", 0, "gives a value"),
    ('timezone("UTC")', 0, "only allowed inside cast"),
    ('log_id("a") = "b"', 0, "restriction, not a value"),
    ("thud=1", 0, 'unknown field "thud"'),
    ('operation.thud="x"', 10, 'unknown field "thud" in operation'),
    ('textPayload.thud="x"', 12, 'has no field "thud"'),
    ('labels.a.b="x"', 9, "values are strings"),
    ("httpRequest = 5", 12, 'can only be tested with ":"'),
    ('labels="x"', 6, 'can only be tested with ":"'),
    ('httpRequest.status=~"5.."', 18, "only apply to string fields"),
    ('jsonPayload.x=~"(?=a)"', 15, "invalid perl operator: (?="),
    ('jsonPayload.x=~"(?<!a)b"', 15, "invalid perl operator: (?<!"),
    ('jsonPayload.x=~"(a)\\1"', 15, "invalid escape sequence: \\1"),
    ('jsonPayload.x=~"a("', 15, "invalid regular expression"),
    ('jsonPayload.x=~"a++"', 15, "bad repetition operator: ++"),
    ('jsonPayload.x=~"\\p{Greekish}"', 15, "invalid character class range: \\p{Greekish}"),
    ("jsonPayload.x=~NULL_VALUE", 15, "must be a string"),
    ('jsonPayload.x=~("ok" OR "[")', 24, "invalid regular expression"),
    ("sample(insertId, 1.5)", 17, "fraction"),
    ("sample(insertId, 0)", 17, "fraction"),
    ("sample(insertId, half)", 17, "fraction"),
    ('sample("insertId", 0.5)', 7, "needs a field name"),
    ('ip_in_net(httpRequest.remoteIp, "10.0.0.0/33")', 32, "not an IP address"),
    ('ip_in_net(httpRequest.remoteIp, "nope")', 32, "not an IP address"),
    ("SEARCH(textPayload, unquoted)", 20, "double-quoted"),
    ('SEARCH("")', 7, "no words"),
    ('SEARCH("`unbalanced")', 7, "unbalanced backtick"),
    ("source(projects)", 7, "TYPE/ID"),
    ("cast(jsonPayload.x, WEIRD) = 1", 20, "cast() type must be one of"),
    ('cast(timestamp, STRING, TIMEZONE("Mars/Base")) = "x"', 33, "unknown time zone"),
    ('cast(jsonPayload.x, STRING, TIMEZONE("UTC")) = "x"', 28, "only applies"),
    ('cast(timestamp, STRING, "UTC") = "x"', 24, "TIMEZONE("),
    ('cast("x", STRING) = "x"', 5, "expected a field name"),
    ('regexp_extract(jsonPayload.x, "a") = "b"', 30, "exactly one capturing group"),
    ('regexp_extract(jsonPayload.x, "(a)(b)") = "b"', 30, "exactly one capturing group"),
    ('regexp_extract(jsonPayload.x, "(") = "b"', 30, "invalid regular expression"),
    ('jsonPayload.x="a" OR', 20, "after OR"),
]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [pytest.param(t, p, f, id=t[:60]) for t, p, f in MALFORMED],
)
def test_malformed_filter(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(text)
    error = caught.value
    assert fragment in str(error).split("\n")[0]
    assert error.position == position
    assert error.filter_text == text


def test_too_long() -> None:
    text = 'jsonPayload.x="' + "a" * 20_000 + '"'
    with pytest.raises(FilterError, match="longer than 20,000") as caught:
        parse_filter(text)
    assert caught.value.position == 20_000


def test_exactly_at_limit_is_fine() -> None:
    text = "a" * 20_000
    assert compile_filter(text).matches({"textPayload": "a" * 20_000})


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("(" * 150 + "a" + ")" * 150, 100),
        ("NOT " * 150 + "a", 400),
        ("- " * 150 + "a", 200),
        ("x=" + "(" * 150 + "a" + ")" * 150, 102),
        ("cast(" * 150 + "timestamp" + ", STRING)" * 150 + ' = "x"', 500),
    ],
    ids=["parens", "not", "minus", "rhs-parens", "nested-calls"],
)
def test_deep_nesting_is_a_filter_error(text: str, position: int) -> None:
    with pytest.raises(FilterError, match="nested more than 100") as caught:
        parse_filter(text)
    assert caught.value.position == position


def test_nesting_below_limit_works() -> None:
    text = "(" * 90 + "severity=ERROR" + ")" * 90
    assert compile_filter(text).matches({"severity": "ERROR"})
    assert not compile_filter("NOT " * 99 + "severity=ERROR").matches({"severity": "ERROR"})


def test_message_shows_caret_under_position() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter('resource.type="x")')
    text = str(caught.value)
    first, snippet, caret = text.split("\n")
    assert first == 'unexpected ")" at position 17; expected AND, OR or the end of the filter'
    assert snippet == '  resource.type="x")'
    assert caret == "  " + " " * 17 + "^"


def test_message_on_multiline_filter_shows_the_line() -> None:
    text = 'severity>=ERROR\nAND jsonPayload.x="a" )\nAND y'
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    rendered = str(caught.value)
    assert "at position 38 (line 2, column 23)" in rendered
    lines = rendered.split("\n")
    assert lines[1] == '  AND jsonPayload.x="a" )'
    assert lines[2].index("^") == lines[1].index(")")


def test_message_on_long_line_is_windowed() -> None:
    text = "a " * 200 + ")" + " b" * 200
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    _, snippet, caret = str(caught.value).split("\n")
    assert snippet.startswith("  ...") and snippet.endswith("...")
    assert snippet[caret.index("^")] == ")"


def test_filter_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError) as caught:
        compile_filter("severity=")
    error = caught.value
    assert isinstance(error, FilterError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position, copy.filter_text, copy.expected) == (
        error.message,
        error.position,
        error.filter_text,
        error.expected,
    )
    assert str(copy) == str(error)
