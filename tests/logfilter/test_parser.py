"""Syntax trees: precedence, distribution of parenthesized values, paths and literals."""

from __future__ import annotations

import pytest

from observability.logfilter import (
    And,
    Comparison,
    FieldPath,
    FunctionCall,
    GlobalRestriction,
    Node,
    Not,
    Or,
    Value,
    Wildcard,
    parse_filter,
)


def word(text: str) -> GlobalRestriction:
    return GlobalRestriction(Value(text, "word"))


def eq(path: str, text: str, kind: str = "string", op: str = "=") -> Comparison:
    return Comparison(FieldPath(tuple(path.split("."))), op, Value(text, kind))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        pytest.param("", And(()), id="empty"),
        pytest.param("  -- just a comment\n", And(()), id="comment-only"),
        pytest.param("a", word("a"), id="word"),
        pytest.param(
            "a OR NOT b AND NOT c OR d",
            And((Or((word("a"), Not(word("b")))), Or((Not(word("c")), word("d"))))),
            id="docs-precedence-example",
        ),
        pytest.param(
            'x.a="1" x.b="2" OR x.c="3"',
            And((eq("x.a", "1"), Or((eq("x.b", "2"), eq("x.c", "3"))))),
            id="juxtaposition-binds-loosest",
        ),
        pytest.param(
            "a AND b OR c",
            And((word("a"), Or((word("b"), word("c"))))),
            id="and-below-or",
        ),
        pytest.param("a b c", And((word("a"), word("b"), word("c"))), id="n-ary-and"),
        pytest.param("a OR b OR c", Or((word("a"), word("b"), word("c"))), id="n-ary-or"),
        pytest.param("-a", Not(word("a")), id="minus-negates"),
        pytest.param("NOT NOT a", Not(Not(word("a"))), id="double-not"),
        pytest.param(
            "(a AND b) OR c",
            Or((And((word("a"), word("b"))), word("c"))),
            id="parentheses",
        ),
        pytest.param(
            "a and b",
            And((word("a"), word("and"), word("b"))),
            id="lowercase-and-is-a-word",
        ),
        pytest.param("Or", word("Or"), id="mixed-case-or-is-a-word"),
        pytest.param(
            'resource.type=("a" OR "b")',
            Or((eq("resource.type", "a"), eq("resource.type", "b"))),
            id="rhs-group-distributes",
        ),
        pytest.param(
            'jsonPayload.x:("a" AND NOT "b")',
            And(
                (
                    eq("jsonPayload.x", "a", op=":"),
                    Not(eq("jsonPayload.x", "b", op=":")),
                )
            ),
            id="rhs-group-with-not",
        ),
        pytest.param(
            "severity=(ERROR OR CRITICAL)",
            Or((eq("severity", "ERROR", "word"), eq("severity", "CRITICAL", "word"))),
            id="rhs-group-words",
        ),
        pytest.param(
            'labels."task-id"="x"',
            Comparison(FieldPath(("labels", "task-id")), "=", Value("x", "string")),
            id="quoted-segment",
        ),
        pytest.param(
            'jsonPayload."my.key".AND=1',
            Comparison(FieldPath(("jsonPayload", "my.key", "AND")), "=", Value("1", "number")),
            id="keyword-as-later-segment",
        ),
        pytest.param(
            "jsonPayload.x:*",
            Comparison(FieldPath(("jsonPayload", "x")), ":", Wildcard()),
            id="presence",
        ),
        pytest.param("jsonPayload.x>-5", eq("jsonPayload.x", "-5", "number", ">"), id="neg-number"),
        pytest.param(
            "jsonPayload.x>-5.5e3", eq("jsonPayload.x", "-5.5e3", "number", ">"), id="exponent"
        ),
        pytest.param(
            "jsonPayload.x=NULL_VALUE", eq("jsonPayload.x", "NULL_VALUE", "null"), id="null"
        ),
        pytest.param(
            "resource.labels.zone=us-central1-a",
            eq("resource.labels.zone", "us-central1-a", "word"),
            id="hyphenated-word",
        ),
        pytest.param(
            'timestamp>="2026-11-23"',
            eq("timestamp", "2026-11-23", "string", ">="),
            id="quoted-date",
        ),
        pytest.param(
            'x="tab\\tquote\\"slash\\\\e\\u00e9"',
            eq("x", 'tab\tquote"slash\\eé'),
            id="escapes",
        ),
        pytest.param('x="\\d+"', eq("x", "\\d+"), id="unknown-escape-kept"),
        pytest.param('x="\\101"', eq("x", "A"), id="octal-escape"),
        pytest.param(
            "x=a--comment\ny=b",
            And((eq("x", "a", "word"), eq("y", "b", "word"))),
            id="comment-ends-a-word",
        ),
        pytest.param(
            'log_id("airflow-worker")',
            FunctionCall("log_id", (Value("airflow-worker", "string"),)),
            id="function",
        ),
        pytest.param(
            "sample(insertId, 0.1)",
            FunctionCall("sample", (FieldPath(("insertId",)), Value("0.1", "number"))),
            id="function-args",
        ),
        pytest.param(
            "log_id (x)",
            And((word("log_id"), word("x"))),
            id="space-before-paren-is-not-a-call",
        ),
        pytest.param(
            'cast(timestamp, STRING) =~ "^2023"',
            Comparison(
                FunctionCall("cast", (FieldPath(("timestamp",)), FieldPath(("STRING",)))),
                "=~",
                Value("^2023", "string"),
            ),
            id="function-operand",
        ),
        pytest.param("-5", Not(GlobalRestriction(Value("5", "number"))), id="minus-number-term"),
        pytest.param('"a b"', GlobalRestriction(Value("a b", "string")), id="phrase"),
    ],
)
def test_tree(text: str, tree: Node) -> None:
    assert parse_filter(text) == tree


def test_positions_are_recorded() -> None:
    node = parse_filter('severity>=ERROR AND jsonPayload."a b".c:x')
    assert isinstance(node, And)
    second = node.children[1]
    assert isinstance(second, Comparison)
    assert isinstance(second.lhs, FieldPath)
    assert second.lhs.pos == 20
    assert second.lhs.positions == (20, 32, 38)
    assert second.pos == 39  # the operator
    assert isinstance(second.rhs, Value)
    assert second.rhs.pos == 40
