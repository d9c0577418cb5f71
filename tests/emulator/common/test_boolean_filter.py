"""The boolean frame shared by the Monitoring filter languages: precedence, NOT binding,
parentheses and error positions, on a language whose terms are bare words, then the same frame
seen through the two real languages."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from observability.emulator.alert_policies.listing import Schema, compile_list_filter
from observability.emulator.common.boolean_filter import (
    AllOf,
    AnyOf,
    BooleanParser,
    Expr,
    Not,
    Token,
    compile_test,
    token_pattern,
    unquote,
)
from observability.emulator.common.errors import ApiError
from observability.emulator.common.monitoring_filter import (
    MonitoringFilterError,
    compile_monitoring_filter,
)


class Words(BooleanParser[str]):
    """The smallest language on the frame: each term is one word (errors borrowed from the
    metric filter language)."""

    pattern = token_pattern(operators=r"=", minus=r"-", word=r"[A-Za-z]+")

    def term(self) -> str:
        return self.expect("word").text

    def error(self, message: str, pos: int) -> MonitoringFilterError:
        return MonitoringFilterError(message, pos)

    def unexpected_character(self, gap_start: int, pos: int) -> MonitoringFilterError:
        return self.error(f"unexpected {self.text[pos]!r} after a gap from {gap_start}", pos)

    def missing(self, want: str, token: Token) -> MonitoringFilterError:
        return self.error(f"expected {want}", token.pos)


class CommaStops(Words):
    and_stops = "),"


def parse(text: str) -> Expr[str]:
    return Words(text).parse()


TREES: list[tuple[str, Expr[str]]] = [
    ("a", "a"),
    ("a OR b c", AnyOf(("a", AllOf(("b", "c"))))),
    ("a AND b OR c", AnyOf((AllOf(("a", "b")), "c"))),
    ("a AND b AND c", AllOf(("a", "b", "c"))),
    ("NOT a b", AllOf((Not("a"), "b"))),
    ("-a OR b", AnyOf((Not("a"), "b"))),
    ("NOT NOT a", Not(Not("a"))),
    ("NOT (a OR b)", Not(AnyOf(("a", "b")))),
    ("(a OR b) c", AllOf((AnyOf(("a", "b")), "c"))),
    ("((a))", "a"),
]


@pytest.mark.parametrize(("text", "tree"), TREES)
def test_precedence_is_not_then_and_then_or(text: str, tree: Expr[str]) -> None:
    assert parse(text) == tree


def test_a_compiled_tree_agrees_with_python_booleans_on_every_assignment() -> None:
    def holds(word: str) -> Callable[[set[str]], bool]:
        return lambda true_words: word in true_words

    test = compile_test(parse("NOT a OR b c AND (a OR -c)"), holds)
    for values in itertools.product([False, True], repeat=3):
        a, b, c = values
        true = {name for name, value in zip("abc", values, strict=True) if value}
        assert test(true) == ((not a) or (b and c and (a or not c)))


@pytest.mark.parametrize(
    ("text", "message", "pos"),
    [
        ("a )", "unexpected ')'", 2),
        ("(a", "expected ')'", 2),
        ("(a b", "expected ')'", 4),
        ("a OR", "expected word", 4),
        ("a  ?", "unexpected '?' after a gap from 1", 3),
        ("a , b", "expected word", 2),
    ],
)
def test_errors_name_the_position_of_the_token_at_fault(text: str, message: str, pos: int) -> None:
    with pytest.raises(MonitoringFilterError) as raised:
        parse(text)
    assert (raised.value.message, raised.value.position) == (message, pos)


def test_and_stops_leave_the_punctuation_to_the_caller() -> None:
    with pytest.raises(MonitoringFilterError) as raised:
        CommaStops("a , b").parse()
    assert (raised.value.message, raised.value.position) == ("unexpected ','", 2)


def test_quoted_strings_keep_escaped_quotes() -> None:
    [string, end] = Words(r'"say \"hi\"" ').tokens
    assert string == Token("string", r'"say \"hi\""', 0) and end.kind == "end"
    assert unquote(string.text) == 'say "hi"'
    assert unquote(r"'it\'s'") == "it's"


def test_monitoring_errors_keep_their_wording_and_position() -> None:
    with pytest.raises(MonitoringFilterError) as raised:
        compile_monitoring_filter('metric.type = "x" AND (resource.type = "y"')
    assert str(raised.value) == "expected ')', got the end of the filter at position 42"
    with pytest.raises(MonitoringFilterError) as raised:
        compile_monitoring_filter('metric.type = "x"  #')
    assert str(raised.value) == "unexpected character '#' at position 19"


def test_monitoring_metric_types_follow_the_boolean_frame() -> None:
    def types(text: str) -> frozenset[str] | None:
        return compile_monitoring_filter(text).metric_types

    assert types('metric.type = "a" OR metric.type = one_of("b", "c")') == {"a", "b", "c"}
    assert types('metric.type = one_of("a", "b") metric.type = "b"') == {"b"}
    assert types('metric.type = "a" OR resource.type = "r"') is None
    assert types('metric.type = "a" AND NOT metric.type = "b"') == {"a"}
    assert types('NOT metric.type = "a"') is None


SCHEMA = Schema(fields=frozenset({"display_name"}), maps={"user_labels": "user_labels"})


def test_list_filter_errors_keep_their_wording_and_position() -> None:
    with pytest.raises(ApiError) as raised:
        compile_list_filter('display_name = "x" AND (', SCHEMA)
    assert raised.value.message == (
        'Field filter had an invalid value of "display_name = "x" AND (": '
        "expected a field name, got 'the end' at position 24"
    )
    # The list filter points at the whitespace before a character that starts no token.
    with pytest.raises(ApiError) as raised:
        compile_list_filter('display_name = "x"  #', SCHEMA, field="filter2")
    assert raised.value.message.endswith(": unexpected character at position 18")
    assert raised.value.message.startswith("Field filter2 ")


def test_list_filter_groups_with_the_frame() -> None:
    test = compile_list_filter("display_name = a (user_labels.t = x OR display_name = b)", SCHEMA)
    assert test({"display_name": "a", "user_labels": {"t": "x"}})
    assert not test({"display_name": "a", "user_labels": {}})
    # Without the parentheses this one would match: (a AND t = x) OR b.
    assert not test({"display_name": "b", "user_labels": {}})
